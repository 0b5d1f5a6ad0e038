#!/usr/bin/env python3
"""Parse a tally page strictly (html5lib, strict: any parse error fails) and read every chart's
numbers back out of its SVG, from the geometry as drawn and from the marks' own attributes.

usage: svg_readback.py PAGE.html      prints one JSON object: {"charts": [...]}, exit 0
       exit 2 with the parse errors when the page is not well-formed HTML5.

For each chart (an <svg> with data-chart): its id, kind, <title> and <desc>, and its marks:
  gauge:     the marker's score, and the score its x position stands for on the axis;
  timeline:  each point's date and score, and the day offset and score its (cx, cy) stand for;
  histogram: each bar's range and count, and the count its height stands for;
  bars:      each bar's label and value, and the value its width stands for;
  stacked:   each segment's night, tier and count, and the count its height stands for.
"""
import json
import sys

import html5lib

SVG = "{http://www.w3.org/2000/svg}"


def floats(s):
    return [float(v) for v in s.split()]


def text_of(el):
    return "".join(el.itertext())


def chart(svg):
    kind = svg.get("data-chart")
    px, py, pw, ph = floats(svg.get("data-plot"))
    out = {"id": svg.get("id"), "kind": kind, "title": None, "desc": None, "marks": [],
           "labelledby": svg.get("aria-labelledby"), "role": svg.get("role")}
    for child in svg:
        if child.tag == SVG + "title":
            out["title"] = text_of(child)
        elif child.tag == SVG + "desc":
            out["desc"] = text_of(child)
    if kind == "gauge":
        lo, hi = float(svg.get("data-x-min")), float(svg.get("data-x-max"))
        for g in svg.iter(SVG + "g"):
            if g.get("data-score") is None:
                continue
            line = g.find(SVG + "line")
            x = float(line.get("x1"))
            out["marks"].append({"score": int(g.get("data-score")), "from_geometry": lo + (x - px) / pw * (hi - lo),
                                 "unit": (hi - lo) / pw})
    elif kind == "timeline":
        lo, hi = float(svg.get("data-y-min")), float(svg.get("data-y-max"))
        for c in svg.iter(SVG + "circle"):
            out["marks"].append({"date": c.get("data-date"), "score": int(c.get("data-score")), "tier": c.get("data-tier"),
                                 "day_fraction": (float(c.get("cx")) - px) / pw,
                                 "from_geometry": hi - (float(c.get("cy")) - py) / ph * (hi - lo), "unit": (hi - lo) / ph,
                                 "title": text_of(c.find(SVG + "title"))})
        out["x_from"], out["x_to"] = svg.get("data-x-from"), svg.get("data-x-to")
    elif kind == "histogram":
        top = float(svg.get("data-y-max"))
        lo, hi = float(svg.get("data-x-min")), float(svg.get("data-x-max"))
        for r in svg.iter(SVG + "rect"):
            if r.get("data-count") is None:
                continue
            out["marks"].append({"from": int(r.get("data-from")), "to": int(r.get("data-to")), "count": int(r.get("data-count")),
                                 "from_geometry": float(r.get("height")) / ph * top, "unit": top / ph,
                                 "x_from_geometry": lo + (float(r.get("x")) - 0.5 - px) / pw * (hi - lo), "x_unit": (hi - lo) / pw,
                                 "title": text_of(r.find(SVG + "title"))})
    elif kind == "bars":
        top = float(svg.get("data-x-max"))
        for r in svg.iter(SVG + "rect"):
            if r.get("data-value") is None:
                continue
            out["marks"].append({"label": r.get("data-label"), "value": int(r.get("data-value")),
                                 "from_geometry": float(r.get("width")) / pw * top, "unit": top / pw,
                                 "title": text_of(r.find(SVG + "title"))})
    elif kind == "stacked":
        top = float(svg.get("data-y-max"))
        for r in svg.iter(SVG + "rect"):
            if r.get("data-count") is None:
                continue
            out["marks"].append({"night": r.get("data-night"), "tier": r.get("data-tier"), "count": int(r.get("data-count")),
                                 "from_geometry": float(r.get("height")) / ph * top, "unit": top / ph,
                                 "title": text_of(r.find(SVG + "title"))})
    return out


def main():
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    try:
        doc = parser.parse(data)
    except html5lib.html5parser.ParseError as e:
        print(f"not well-formed HTML5: {e}; errors: {parser.errors}", file=sys.stderr)
        sys.exit(2)
    charts = [chart(svg) for svg in doc.iter(SVG + "svg")]
    scripts = [el.tag for el in doc.iter() if isinstance(el.tag, str) and el.tag.split("}")[-1] in ("script", "iframe", "object", "embed")]
    external = [el.get("src") or el.get("href") for el in doc.iter() if isinstance(el.tag, str)
                and (el.get("src") or (el.tag.split("}")[-1] == "link" and el.get("href")))]
    print(json.dumps({"charts": charts, "scripts": scripts, "external": external, "lang": doc.get("lang"),
                      "title": text_of(doc.find("head/title"))}, ensure_ascii=False))


if __name__ == "__main__":
    main()
