"""Build hook: the gettext catalogs (``shared/locale/*/LC_MESSAGES/messages.po``) are compiled to
``.mo`` files when the package is built, so that no compiled file lives in the repository.

Everything else about the package is in ``pyproject.toml``.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
LOCALE = Path("shared") / "locale"


def compile_catalogs(source: Path, target: Path) -> list[str]:
    """Compile every ``.po`` under ``source`` into the same place under ``target``."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as file:
            catalog = read_po(file)
        with mo.open("wb") as file:
            write_mo(file, catalog)
        written.append(str(mo))
    return written


class BuildWithCatalogs(build_py):
    def run(self) -> None:
        super().run()
        # an editable install reads the source tree: the catalogs are compiled in place
        target = HERE if getattr(self, "editable_mode", False) else Path(self.build_lib)
        for path in compile_catalogs(HERE / LOCALE, target / LOCALE):
            self.announce(f"compiled {path}", level=2)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        outputs += [
            str(Path(self.build_lib) / LOCALE / po.relative_to(HERE / LOCALE).with_suffix(".mo"))
            for po in (HERE / LOCALE).glob("*/LC_MESSAGES/*.po")
        ]
        return outputs


setup(cmdclass={"build_py": BuildWithCatalogs})
