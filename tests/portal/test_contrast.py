"""Every text colour the portal's CSS sets is readable on its background: WCAG 2 AA, 4.5:1.

The colours are read from examples/portal/static/portal.css itself (custom properties resolved);
a rule that sets a colour without a background is read against the page's background. The browser
tests check the contrast of every text on every page they land on, as Chromium computed it
(portal_browser.Page.check_accessible); this one adds the states no journey shows (a focused skip
link) and runs where Chromium is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "examples" / "portal" / "static" / "portal.css"
AA = 4.5


def _luminance(hex_colour: str) -> float:
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    css = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^{}]*\})*)\s*\}", r"\1", css)
    rules = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        decls = dict(
            (name.strip(), value.strip())
            for name, _, value in (d.partition(":") for d in body.split(";") if ":" in d)
        )
        rules.append((selector.strip(), decls))
    return rules


def colour_pairs() -> list[tuple[str, str, str]]:
    rules = _rules(CSS.read_text(encoding="utf-8"))
    variables = {
        k: v for sel, decls in rules if sel == ":root" for k, v in decls.items() if k.startswith("--")
    }

    def resolve(value: str) -> str:
        match = re.fullmatch(r"var\((--[\w-]+)\)", value)
        return variables[match.group(1)] if match else value

    body = next(decls for sel, decls in rules if sel == "body")
    page = resolve(body["background"])
    pairs = []
    for selector, decls in rules:
        if "color" not in decls:
            continue
        background = decls.get("background", decls.get("background-color"))
        pairs.append((selector, resolve(decls["color"]), resolve(background) if background else page))
    return pairs


def test_the_css_sets_text_colours() -> None:
    assert len(colour_pairs()) >= 10


@pytest.mark.parametrize(("selector", "fg", "bg"), colour_pairs())
def test_text_contrast_meets_wcag_aa(selector: str, fg: str, bg: str) -> None:
    ratio = contrast(fg, bg)
    assert ratio >= AA, f"{selector}: {fg} on {bg} is {ratio:.2f}:1, below {AA}:1"


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
