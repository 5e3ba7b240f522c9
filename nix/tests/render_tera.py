#!/usr/bin/env python3
"""Render a katafleet template with the small Tera subset it may use.

    render_tera.py TEMPLATE VARS_JSON > OUT

katafleet renders templates/nixos/*.tera with the real Tera crate. This
stand-in exists so that nix/ci-checks can check, without building katafleet,
that the rendered file is Nix that evaluates with the module. It accepts only
`{{ var }}`, `{% if %}` / `{% else %}` / `{% endif %}` and
`{% for x in list %}` / `{% endfor %}` (conditions: `var`, `not var`,
`var == "text"`, `var != "text"`, joined by `and` / `or`), and fails on any
other tag, so it also keeps the template inside that subset.
"""

import json
import re
import sys

TOKEN = re.compile(r"({{.*?}}|{%.*?%})", re.S)


class TemplateError(Exception):
    pass


def value(name, scope):
    if name not in scope:
        raise TemplateError(f"unknown variable `{name}`")
    return scope[name]


def show(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    raise TemplateError(f"cannot print {v!r}")


def condition(expr, scope):
    for op, join in ((" or ", any), (" and ", all)):
        if op in expr:
            return join(condition(part, scope) for part in expr.split(op))
    expr = expr.strip()
    m = re.fullmatch(r'(\w+)\s*(==|!=)\s*"([^"]*)"', expr)
    if m:
        equal = value(m.group(1), scope) == m.group(3)
        return equal if m.group(2) == "==" else not equal
    m = re.fullmatch(r"not\s+(\w+)", expr)
    if m:
        return not value(m.group(1), scope)
    if re.fullmatch(r"\w+", expr):
        return bool(value(expr, scope))
    raise TemplateError(f"unsupported condition `{expr}`")


def parse(tokens, pos, stop):
    """Parse until one of `stop` tags; return (nodes, pos, stop tag)."""
    nodes = []
    while pos < len(tokens):
        tok = tokens[pos]
        pos += 1
        if tok.startswith("{{"):
            name = tok[2:-2].strip()
            if not re.fullmatch(r"\w+", name):
                raise TemplateError(f"only plain variables may be printed, not `{name}`")
            nodes.append(("var", name))
        elif tok.startswith("{%"):
            tag = tok[2:-2].strip()
            word = tag.split()[0] if tag else ""
            if word in stop:
                return nodes, pos, tag
            if word == "if":
                body, pos, end = parse(tokens, pos, ("else", "endif"))
                other = []
                if end == "else":
                    other, pos, _ = parse(tokens, pos, ("endif",))
                nodes.append(("if", tag[2:].strip(), body, other))
            elif word == "for":
                m = re.fullmatch(r"for\s+(\w+)\s+in\s+(\w+)", tag)
                if not m:
                    raise TemplateError(f"unsupported loop `{tag}`")
                body, pos, _ = parse(tokens, pos, ("endfor",))
                nodes.append(("for", m.group(1), m.group(2), body))
            else:
                raise TemplateError(f"unsupported tag `{{% {tag} %}}`")
        else:
            nodes.append(("text", tok))
    if stop:
        raise TemplateError(f"missing `{{% {stop[-1]} %}}`")
    return nodes, pos, None


def render(nodes, scope):
    out = []
    for node in nodes:
        kind = node[0]
        if kind == "text":
            out.append(node[1])
        elif kind == "var":
            out.append(show(value(node[1], scope)))
        elif kind == "if":
            out.append(render(node[2] if condition(node[1], scope) else node[3], scope))
        else:
            _, item, seq, body = node
            for v in value(seq, scope):
                out.append(render(body, {**scope, item: v}))
    return "".join(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        tokens = [t for t in TOKEN.split(f.read()) if t]
    with open(sys.argv[2]) as f:
        scope = json.load(f)
    try:
        nodes, _, _ = parse(tokens, 0, ())
        sys.stdout.write(render(nodes, scope))
    except TemplateError as e:
        sys.exit(f"{sys.argv[1]}: {e}")


if __name__ == "__main__":
    main()
