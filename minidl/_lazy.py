"""Lazy attribute exports (PEP 562): ``import minidl`` stays fast, and every public name
lives in the one file that defines it; the package ``__init__`` only says where."""
import importlib


def lazy_exports(package: str, mapping: dict, base: str = None):
    """Return ``(__getattr__, __dir__, __all__)`` for module ``package`` exporting ``mapping``.

    ``mapping`` is ``{public_name: "relative.module"}``, relative to ``base`` (default:
    ``package``); a value ending in ``:`` (``"init:"``) exports the submodule itself.
    """
    base = base or package

    def __getattr__(name):
        target = mapping.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if target.endswith(":"):
            value = importlib.import_module(f"{base}.{target[:-1]}")
        else:
            module = importlib.import_module(f"{base}.{target}")
            value = getattr(module, name)
        import sys

        setattr(sys.modules[package], name, value)
        return value

    def __dir__():
        import sys

        return sorted(set(mapping) | set(vars(sys.modules[package])))

    return __getattr__, __dir__, sorted(mapping)
