"""Random but plausible web pages: navbars, heroes, feature cards, pricing, forms, tables, stats, footers.

Each page is written for one UI stack of the sandbox (``PAGE_STACKS``, a subset of ``sandbox.UI_STACKS``):
``html`` pages carry their own ``<style>`` sheet with semantic class names; ``tailwind`` pages use
Tailwind utility classes only (the sandbox inlines Tailwind's browser build, as it does for the agent's
Tailwind answers). Pages are screenshotted full-page at an 800 px wide viewport.
"""

from __future__ import annotations

import html as html_lib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from viscodex.sandbox import UI_STACKS, Sandbox, Viewport

from .base import Program, Rendered, Synthesizer, item_rng, screenshot

PageStack = Literal["html", "tailwind"]
PAGE_STACKS: tuple[PageStack, ...] = get_args(PageStack)
assert set(PAGE_STACKS) <= set(UI_STACKS)
Section = Literal["navbar", "hero", "cards", "pricing", "form", "table", "stats", "footer"]
SECTIONS: tuple[Section, ...] = get_args(Section)
VIEWPORT = Viewport(width=800, height=600)

INSTRUCTIONS = {
    "html": (
        "Write the HTML and CSS for this web page.",
        "Reproduce this web page as a single HTML file with a <style> block.",
        "Here is a screenshot of a page. Write its HTML and CSS.",
    ),
    "tailwind": (
        "Build this web page in HTML with Tailwind CSS utility classes.",
        "Reproduce this page as one HTML file styled with Tailwind CSS.",
        "Here is a screenshot of a page. Write it with HTML and Tailwind classes.",
    ),
}


@dataclass(frozen=True)
class Colour:
    name: str
    """Tailwind's name of the hue."""
    main: str
    dark: str
    light: str


COLOURS = (
    Colour("indigo", "#4f46e5", "#4338ca", "#eef2ff"),
    Colour("emerald", "#059669", "#047857", "#ecfdf5"),
    Colour("rose", "#e11d48", "#be123c", "#fff1f2"),
    Colour("sky", "#0284c7", "#0369a1", "#f0f9ff"),
    Colour("amber", "#d97706", "#b45309", "#fffbeb"),
    Colour("violet", "#7c3aed", "#6d28d9", "#f5f3ff"),
    Colour("teal", "#0d9488", "#0f766e", "#f0fdfa"),
    Colour("slate", "#475569", "#334155", "#f8fafc"),
)
FONTS = (
    ("sans", "Helvetica, Arial, sans-serif"),
    ("serif", "Georgia, 'Times New Roman', serif"),
    ("mono", "'DejaVu Sans Mono', monospace"),
)
BRANDS = ("Nimbus", "Acme Cloud", "Brightpath", "Lumen", "Northwind", "Quanta", "Pixelforge", "Greenleaf", "Orbit")
PRODUCTS = (
    ("Analytics that explain themselves", "Dashboards, alerts and reports your whole team understands."),
    ("Ship faster with fewer meetings", "Plan, track and release in one place, from idea to launch."),
    ("Your money, organised", "Budgets, bills and savings goals in a single calm app."),
    ("Learn to code, one project at a time", "Hands-on lessons with feedback from real mentors."),
    ("Fresh groceries at your door", "Local farms, seasonal boxes, delivered twice a week."),
    ("Secure storage for every file", "Encrypted backups and sharing that just works."),
)
FEATURES = (
    ("Fast setup", "Get started in minutes with guided onboarding."),
    ("Team spaces", "Invite colleagues and work together in real time."),
    ("Smart alerts", "Be notified only when something really changes."),
    ("Open API", "Connect the tools you already use."),
    ("Daily backups", "Your data is copied every night, automatically."),
    ("Privacy first", "We never sell data; everything is encrypted."),
    ("Offline mode", "Keep working without a connection."),
    ("24/7 support", "Real people answer, day and night."),
)
LINKS = ("Home", "Features", "Pricing", "Blog", "About", "Docs", "Contact", "Careers")
TABLES = (
    ("Recent orders", ("Order", "Customer", "Total", "Status"), ("Paid", "Pending", "Refunded")),
    ("Team members", ("Name", "Role", "Location", "Status"), ("Active", "Invited", "Away")),
    ("Deployments", ("Service", "Version", "Region", "Status"), ("Live", "Building", "Failed")),
)
PEOPLE = ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Linus Torvalds", "Margaret Hamilton", "Ken Thompson")
ROLES = ("Engineer", "Designer", "Manager", "Analyst", "Support")
CITIES = ("Berlin", "Lagos", "Lima", "Osaka", "Toronto", "Madrid")
SERVICES = ("api", "web", "worker", "auth", "search", "billing")
REGIONS = ("eu-west", "us-east", "ap-south", "sa-east")


@dataclass(frozen=True)
class Page:
    stack: PageStack
    colour: Colour
    font: tuple[str, str]
    brand: str
    rounded: bool


def _e(text: str) -> str:
    return html_lib.escape(text, quote=True)


# --- sections: (plain HTML using the class names of CSS[section], Tailwind HTML) ----------------------


def _navbar(rng: random.Random, page: Page) -> tuple[str, str]:
    links = rng.sample(LINKS, rng.randint(3, 5))
    cta = rng.choice(("Sign up", "Get started", "Log in", "Try it free"))
    items = "\n".join(f'      <a href="#">{_e(link)}</a>' for link in links)
    plain = (
        f'<nav class="navbar">\n  <div class="brand">{_e(page.brand)}</div>\n  <div class="links">\n{items}\n'
        f'  </div>\n  <a href="#" class="button">{_e(cta)}</a>\n</nav>'
    )
    c = page.colour.name
    tw_items = "\n".join(f'      <a href="#" class="hover:text-{c}-600">{_e(link)}</a>' for link in links)
    tw = (
        '<nav class="flex items-center justify-between px-8 py-4 bg-white shadow">\n'
        f'  <div class="text-xl font-bold text-{c}-600">{_e(page.brand)}</div>\n'
        f'  <div class="flex gap-6 text-gray-600">\n{tw_items}\n  </div>\n'
        f'  <a href="#" class="px-4 py-2 text-white bg-{c}-600 {_round(page)}">{_e(cta)}</a>\n</nav>'
    )
    return plain, tw


def _round(page: Page) -> str:
    return "rounded-lg" if page.rounded else "rounded-none"


def _hero(rng: random.Random, page: Page) -> tuple[str, str]:
    title, text = rng.choice(PRODUCTS)
    primary = rng.choice(("Start free trial", "Get started", "Book a demo", "Download"))
    second = rng.random() < 0.5
    plain = (
        f'<section class="hero">\n  <h1>{_e(title)}</h1>\n  <p>{_e(text)}</p>\n'
        f'  <div class="actions">\n    <a href="#" class="button">{_e(primary)}</a>\n'
        + ('    <a href="#" class="button secondary">Learn more</a>\n' if second else "")
        + "  </div>\n</section>"
    )
    c = page.colour.name
    tw = (
        f'<section class="px-8 py-16 text-center bg-{c}-50">\n'
        f'  <h1 class="text-4xl font-bold text-gray-900">{_e(title)}</h1>\n'
        f'  <p class="mt-4 text-lg text-gray-600">{_e(text)}</p>\n'
        '  <div class="flex justify-center gap-4 mt-8">\n'
        f'    <a href="#" class="px-6 py-3 text-white bg-{c}-600 {_round(page)}">{_e(primary)}</a>\n'
        + (
            f'    <a href="#" class="px-6 py-3 text-{c}-700 bg-white border border-{c}-600 {_round(page)}">'
            "Learn more</a>\n"
            if second
            else ""
        )
        + "  </div>\n</section>"
    )
    return plain, tw


def _cards(rng: random.Random, page: Page) -> tuple[str, str]:
    count = rng.choice((3, 3, 4))
    chosen = rng.sample(FEATURES, count)
    heading = rng.choice(("Why teams choose us", "Features", "Everything you need", "What you get"))
    plain_cards = "\n".join(
        f'    <div class="card">\n      <div class="icon">{_e(name[0])}</div>\n      <h3>{_e(name)}</h3>\n'
        f"      <p>{_e(text)}</p>\n    </div>"
        for name, text in chosen
    )
    plain = (
        f'<section class="features">\n  <h2>{_e(heading)}</h2>\n  <div class="grid cols-{count}">\n'
        f"{plain_cards}\n  </div>\n</section>"
    )
    c = page.colour.name
    tw_cards = "\n".join(
        f'    <div class="p-6 bg-white shadow {_round(page)}">\n'
        f'      <div class="flex items-center justify-center w-10 h-10 mb-4 font-bold text-white bg-{c}-600 '
        f'rounded-full">{_e(name[0])}</div>\n'
        f'      <h3 class="text-lg font-semibold">{_e(name)}</h3>\n'
        f'      <p class="mt-2 text-gray-600">{_e(text)}</p>\n    </div>'
        for name, text in chosen
    )
    tw = (
        '<section class="px-8 py-12 bg-gray-50">\n'
        f'  <h2 class="mb-8 text-2xl font-bold text-center">{_e(heading)}</h2>\n'
        f'  <div class="grid grid-cols-{count} gap-6">\n{tw_cards}\n  </div>\n</section>'
    )
    return plain, tw


def _pricing(rng: random.Random, page: Page) -> tuple[str, str]:
    base = rng.choice((5, 9, 12, 15))
    tiers = [("Starter", base), ("Pro", base * 3), ("Business", base * 8)]
    perks = rng.sample(FEATURES, 4)
    plain_tiers, tw_tiers = [], []
    c = page.colour.name
    for number, (name, price) in enumerate(tiers):
        count = 2 + number
        items = "\n".join(f"        <li>{_e(p[0])}</li>" for p in perks[:count])
        featured = number == 1
        plain_tiers.append(
            f'    <div class="tier{" featured" if featured else ""}">\n      <h3>{name}</h3>\n'
            f'      <p class="price">${price}<span>/month</span></p>\n      <ul>\n{items}\n      </ul>\n'
            f'      <a href="#" class="button">Choose {name}</a>\n    </div>'
        )
        tw_items = "\n".join(f"        <li>✓ {_e(p[0])}</li>" for p in perks[:count])
        border = f"border-2 border-{c}-600" if featured else "border border-gray-200"
        tw_tiers.append(
            f'    <div class="p-6 bg-white {border} {_round(page)}">\n'
            f'      <h3 class="text-lg font-semibold">{name}</h3>\n'
            f'      <p class="mt-2 text-3xl font-bold">${price}'
            '<span class="text-base text-gray-500">/month</span></p>\n'
            f'      <ul class="mt-4 space-y-2 text-gray-600">\n{tw_items}\n      </ul>\n'
            f'      <a href="#" class="block mt-6 py-2 text-center text-white bg-{c}-600 {_round(page)}">'
            f"Choose {name}</a>\n    </div>"
        )
    heading = rng.choice(("Simple pricing", "Plans for every team", "Pricing"))
    plain = (
        f'<section class="pricing">\n  <h2>{heading}</h2>\n  <div class="grid cols-3">\n'
        + "\n".join(plain_tiers)
        + "\n  </div>\n</section>"
    )
    tw = (
        f'<section class="px-8 py-12">\n  <h2 class="mb-8 text-2xl font-bold text-center">{heading}</h2>\n'
        '  <div class="grid grid-cols-3 gap-6">\n' + "\n".join(tw_tiers) + "\n  </div>\n</section>"
    )
    return plain, tw


def _form(rng: random.Random, page: Page) -> tuple[str, str]:
    kind = rng.choice(("contact", "signup", "login"))
    fields = {
        "contact": [("Name", "text"), ("Email", "email"), ("Message", "textarea")],
        "signup": [("Full name", "text"), ("Email", "email"), ("Password", "password")],
        "login": [("Email", "email"), ("Password", "password")],
    }[kind]
    title = {"contact": "Contact us", "signup": "Create your account", "login": "Welcome back"}[kind]
    submit = {"contact": "Send message", "signup": "Sign up", "login": "Log in"}[kind]
    c = page.colour.name
    plain_fields, tw_fields = [], []
    for label, kind_ in fields:
        name = label.lower().replace(" ", "_")
        control = (
            f'<textarea id="{name}" rows="4"></textarea>'
            if kind_ == "textarea"
            else f'<input id="{name}" type="{kind_}">'
        )
        plain_fields.append(f'    <label for="{name}">{label}</label>\n    {control}')
        tw_control = (
            f'<textarea id="{name}" rows="4" class="w-full px-3 py-2 mt-1 border border-gray-300 {_round(page)}">'
            "</textarea>"
            if kind_ == "textarea"
            else f'<input id="{name}" type="{kind_}" class="w-full px-3 py-2 mt-1 border border-gray-300 '
            f'{_round(page)}">'
        )
        tw_fields.append(
            f'    <label for="{name}" class="block mt-4 text-sm font-medium text-gray-700">{label}</label>\n'
            f"    {tw_control}"
        )
    plain = (
        f'<section class="form-section">\n  <form class="form">\n    <h2>{title}</h2>\n'
        + "\n".join(plain_fields)
        + f'\n    <button type="submit" class="button">{submit}</button>\n  </form>\n</section>'
    )
    tw = (
        '<section class="px-8 py-12 bg-gray-50">\n'
        f'  <form class="max-w-md p-8 mx-auto bg-white shadow {_round(page)}">\n'
        f'    <h2 class="text-2xl font-bold">{title}</h2>\n'
        + "\n".join(tw_fields)
        + f'\n    <button type="submit" class="w-full py-2 mt-6 text-white bg-{c}-600 {_round(page)}">{submit}'
        "</button>\n  </form>\n</section>"
    )
    return plain, tw


def _table(rng: random.Random, page: Page) -> tuple[str, str]:
    title, headers, statuses = rng.choice(TABLES)
    rows = []
    for number in range(rng.randint(3, 6)):
        status = rng.choice(statuses)
        if headers[0] == "Order":
            row = [f"#{rng.randint(1000, 9999)}", rng.choice(PEOPLE), f"${rng.randint(12, 900)}.00", status]
        elif headers[0] == "Name":
            row = [PEOPLE[number], rng.choice(ROLES), rng.choice(CITIES), status]
        else:
            row = [
                rng.choice(SERVICES),
                f"v{rng.randint(1, 4)}.{rng.randint(0, 20)}.{number}",
                rng.choice(REGIONS),
                status,
            ]
        rows.append(row)
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join(
        "      <tr>"
        + "".join(f"<td>{_e(v)}</td>" for v in row[:-1])
        + f'<td><span class="badge">{row[-1]}</span></td></tr>'
        for row in rows
    )
    plain = (
        f'<section class="table-section">\n  <h2>{title}</h2>\n  <table>\n    <thead><tr>{head}</tr></thead>\n'
        f"    <tbody>\n{body}\n    </tbody>\n  </table>\n</section>"
    )
    c = page.colour.name
    tw_head = "".join(f'<th class="px-4 py-2 text-left">{h}</th>' for h in headers)
    tw_body = "\n".join(
        '      <tr class="border-t border-gray-200">'
        + "".join(f'<td class="px-4 py-2">{_e(v)}</td>' for v in row[:-1])
        + f'<td class="px-4 py-2"><span class="px-2 py-1 text-xs text-{c}-700 bg-{c}-100 rounded-full">'
        f"{row[-1]}</span></td></tr>"
        for row in rows
    )
    tw = (
        f'<section class="px-8 py-12">\n  <h2 class="mb-4 text-2xl font-bold">{title}</h2>\n'
        f'  <table class="w-full bg-white shadow {_round(page)}">\n'
        f'    <thead class="text-sm text-gray-600 bg-gray-100"><tr>{tw_head}</tr></thead>\n'
        f"    <tbody>\n{tw_body}\n    </tbody>\n  </table>\n</section>"
    )
    return plain, tw


def _stats(rng: random.Random, page: Page) -> tuple[str, str]:
    pool = (
        ("Customers", f"{rng.randint(2, 90)}k"),
        ("Uptime", f"99.{rng.randint(5, 99)}%"),
        ("Countries", str(rng.randint(12, 140))),
        ("Avg. rating", f"4.{rng.randint(1, 9)}"),
        ("Tasks done", f"{rng.randint(1, 20)}M"),
    )
    chosen = rng.sample(pool, rng.choice((3, 4)))
    plain = (
        f'<section class="stats">\n  <div class="grid cols-{len(chosen)}">\n'
        + "\n".join(f'    <div class="stat"><strong>{v}</strong><span>{k}</span></div>' for k, v in chosen)
        + "\n  </div>\n</section>"
    )
    c = page.colour.name
    tw = (
        f'<section class="px-8 py-12 text-white bg-{c}-700">\n'
        f'  <div class="grid grid-cols-{len(chosen)} gap-6 text-center">\n'
        + "\n".join(
            f'    <div><div class="text-4xl font-bold">{v}</div><div class="mt-1 text-{c}-100">{k}</div></div>'
            for k, v in chosen
        )
        + "\n  </div>\n</section>"
    )
    return plain, tw


def _footer(rng: random.Random, page: Page) -> tuple[str, str]:
    year = rng.randint(2021, 2026)
    links = rng.sample(("Privacy", "Terms", "Status", "Contact", "Press"), 3)
    plain = (
        f'<footer class="footer">\n  <p>&copy; {year} {_e(page.brand)}. All rights reserved.</p>\n  <div class="links">'
        + "".join(f'<a href="#">{link}</a>' for link in links)
        + "</div>\n</footer>"
    )
    tw = (
        '<footer class="flex justify-between px-8 py-6 text-sm text-gray-400 bg-gray-900">\n'
        f"  <p>&copy; {year} {_e(page.brand)}. All rights reserved.</p>\n"
        '  <div class="flex gap-4">' + "".join(f'<a href="#">{link}</a>' for link in links) + "</div>\n</footer>"
    )
    return plain, tw


BUILDERS: dict[Section, Callable[[random.Random, Page], tuple[str, str]]] = {
    "navbar": _navbar,
    "hero": _hero,
    "cards": _cards,
    "pricing": _pricing,
    "form": _form,
    "table": _table,
    "stats": _stats,
    "footer": _footer,
}
assert tuple(BUILDERS) == SECTIONS


def _css(page: Page, sections: list[Section]) -> str:
    """The plain page's style sheet: the base rules and those of the sections it has."""
    colour, radius = page.colour, "8px" if page.rounded else "0"
    rules = [
        "* { box-sizing: border-box; margin: 0; padding: 0; }",
        f"body {{ font-family: {page.font[1]}; color: #1f2937; background: #ffffff; }}",
        "a { color: inherit; text-decoration: none; }",
        "h2 { font-size: 26px; margin-bottom: 24px; text-align: center; }",
        f".button {{ display: inline-block; padding: 10px 20px; color: #ffffff; background: {colour.main};"
        f" border: none; border-radius: {radius}; font-size: 15px; }}",
        f".button.secondary {{ color: {colour.dark}; background: #ffffff; border: 1px solid {colour.main}; }}",
        ".grid { display: grid; gap: 24px; }",
        ".cols-3 { grid-template-columns: repeat(3, 1fr); }",
        ".cols-4 { grid-template-columns: repeat(4, 1fr); }",
    ]
    per_section: dict[Section, list[str]] = {
        "navbar": [
            ".navbar { display: flex; align-items: center; justify-content: space-between; padding: 16px 32px;"
            " box-shadow: 0 1px 4px rgba(0, 0, 0, 0.1); }",
            f".brand {{ font-size: 20px; font-weight: bold; color: {colour.main}; }}",
            ".navbar .links a { margin: 0 12px; color: #4b5563; }",
        ],
        "hero": [
            f".hero {{ padding: 64px 32px; text-align: center; background: {colour.light}; }}",
            ".hero h1 { font-size: 36px; }",
            ".hero p { margin-top: 16px; font-size: 18px; color: #4b5563; }",
            ".actions { display: flex; justify-content: center; gap: 16px; margin-top: 32px; }",
        ],
        "cards": [
            ".features { padding: 48px 32px; background: #f9fafb; }",
            f".card {{ padding: 24px; background: #ffffff; border-radius: {radius};"
            " box-shadow: 0 1px 4px rgba(0, 0, 0, 0.1); }",
            f".icon {{ width: 40px; height: 40px; margin-bottom: 16px; line-height: 40px; text-align: center;"
            f" color: #ffffff; background: {colour.main}; border-radius: 50%; font-weight: bold; }}",
            ".card p { margin-top: 8px; color: #4b5563; }",
        ],
        "pricing": [
            ".pricing { padding: 48px 32px; }",
            f".tier {{ padding: 24px; border: 1px solid #e5e7eb; border-radius: {radius}; }}",
            f".tier.featured {{ border: 2px solid {colour.main}; }}",
            ".price { margin-top: 8px; font-size: 30px; font-weight: bold; }",
            ".price span { font-size: 16px; color: #6b7280; }",
            ".tier ul { margin: 16px 0 24px 20px; color: #4b5563; line-height: 1.8; }",
            ".tier .button { display: block; text-align: center; }",
        ],
        "form": [
            ".form-section { padding: 48px 32px; background: #f9fafb; }",
            f".form {{ max-width: 420px; margin: 0 auto; padding: 32px; background: #ffffff;"
            f" border-radius: {radius}; box-shadow: 0 1px 4px rgba(0, 0, 0, 0.1); }}",
            ".form label { display: block; margin-top: 16px; font-size: 14px; color: #374151; }",
            f".form input, .form textarea {{ width: 100%; margin-top: 4px; padding: 8px 12px;"
            f" border: 1px solid #d1d5db; border-radius: {radius}; }}",
            ".form .button { width: 100%; margin-top: 24px; }",
        ],
        "table": [
            ".table-section { padding: 48px 32px; }",
            ".table-section h2 { text-align: left; }",
            "table { width: 100%; border-collapse: collapse; }",
            "th { padding: 8px 16px; text-align: left; font-size: 14px; color: #4b5563; background: #f3f4f6; }",
            "td { padding: 8px 16px; border-top: 1px solid #e5e7eb; }",
            f".badge {{ padding: 2px 8px; font-size: 12px; color: {colour.dark}; background: {colour.light};"
            " border-radius: 999px; }",
        ],
        "stats": [
            f".stats {{ padding: 48px 32px; color: #ffffff; background: {colour.dark}; text-align: center; }}",
            ".stat strong { display: block; font-size: 36px; }",
            ".stat span { opacity: 0.8; }",
        ],
        "footer": [
            ".footer { display: flex; justify-content: space-between; padding: 24px 32px; font-size: 14px;"
            " color: #9ca3af; background: #111827; }",
            ".footer .links a { margin-left: 16px; }",
        ],
    }
    for section in sections:
        rules += per_section[section]
    return "\n".join(f"    {rule}" for rule in rules)


def page_program(seed: int, index: int) -> tuple[str, PageStack, list[Section]]:
    """The HTML of item ``index``, its stack and its sections, top to bottom."""
    rng = item_rng(seed, "ui", index)
    stack = PAGE_STACKS[index % len(PAGE_STACKS)]  # alternating: any n is balanced between the stacks
    page = Page(stack, rng.choice(COLOURS), rng.choice(FONTS), rng.choice(BRANDS), rng.random() < 0.7)
    middle: list[Section] = ["cards", "pricing", "form", "table", "stats"]
    sections: list[Section] = []
    if rng.random() < 0.85:
        sections.append("navbar")
    if rng.random() < 0.7:
        sections.append("hero")
    sections += rng.sample(middle, rng.randint(1, 2))
    if rng.random() < 0.7:
        sections.append("footer")
    parts = [BUILDERS[s](rng, page)[0 if stack == "html" else 1] for s in sections]
    body = "\n".join(parts)
    title = f"{page.brand}"
    if stack == "html":
        head = f"  <title>{_e(title)}</title>\n  <style>\n{_css(page, sections)}\n  </style>\n"
        body_tag = "<body>"
    else:
        head = f"  <title>{_e(title)}</title>\n"
        family = {"sans": "font-sans", "serif": "font-serif", "mono": "font-mono"}[page.font[0]]
        body_tag = f'<body class="{family} text-gray-800 bg-white">'
    code = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n  <meta charset="utf-8">\n'
        f"{head}</head>\n{body_tag}\n{body}\n</body>\n</html>\n"
    )
    return code, stack, sections


def generate(seed: int, index: int) -> Program:
    code, stack, sections = page_program(seed, index)
    instruction = item_rng(seed, "ui-instruction", index).choice(INSTRUCTIONS[stack])
    meta = {
        "stack": stack,
        "sections": ",".join(sections),
        "viewport": f"{VIEWPORT.width}x{VIEWPORT.height}",
    }
    return Program("ui", seed, index, code, "html", "html", instruction, {**meta, "seed": seed, "index": index})


def render(program: Program, sandbox: Sandbox, cancel: threading.Event | None = None) -> Rendered:
    """A full-page screenshot of the page in the sandbox's browser, network off."""
    return screenshot(sandbox, program.code, VIEWPORT, cancel, stack=str(program.meta["stack"]))


SYNTHESIZER = Synthesizer(kind="ui", roles=("html",), generate=generate, render=render)
