#!/usr/bin/env bash
# Builds the book under docs/ with the pinned mdBook (scripts/install-mdbook.sh), offline,
# and checks every link of the README and of the built chapters: a link to another chapter
# must reach a page mdBook wrote, and a link to a heading (`page.html#id`) a heading that
# page has, as mdBook spelled its id; a link from the README into the book
# (`docs/src/PAGE.md#id`) likewise. Links to the web are not followed (no network).
# The book's command blocks are run by scripts/readme-test.sh.
#
# Prints `book: N passed, N failed`: the build, the README, and each chapter.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mdbook=$("$root/scripts/install-mdbook.sh")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! "$mdbook" build "$root/docs" --dest-dir "$out" >"$out.log" 2>&1; then
  cat "$out.log" >&2
  rm -f "$out.log"
  echo "book: 0 passed, 1 failed"
  exit 1
fi
# mdBook reports what it could not resolve (a missing chapter, an {{#include}}) as a warning.
if grep -E '(WARN|ERROR)' "$out.log" >&2; then
  rm -f "$out.log"
  echo "book: 0 passed, 1 failed"
  exit 1
fi
rm -f "$out.log"
python3 - "$root" "$out" <<'PY'
import html.parser, os, re, sys

root, out = sys.argv[1], sys.argv[2]

class Page(html.parser.HTMLParser):
    """The ids of a page, and the links inside its <main> (not the theme's)."""
    def __init__(self):
        super().__init__()
        self.ids, self.links, self.depth = set(), [], 0
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "main":
            self.depth += 1
        if tag == "a" and self.depth and attrs.get("href"):
            self.links.append(attrs["href"])
    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1

pages = {}
def page(name):
    if name not in pages:
        path = os.path.join(out, name)
        if not os.path.isfile(path):
            pages[name] = None
        else:
            p = Page()
            with open(path, encoding="utf-8") as f:
                p.feed(f.read())
            pages[name] = p
    return pages[name]

def check(target, frag, where, broken):
    p = page(target)
    if p is None:
        broken.append(f"{where}: no page {target}")
    elif frag and frag not in p.ids:
        broken.append(f"{where}: {target} has no heading #{frag}")

chapters = re.findall(r"\]\(([^)#]+)\.md\)", open(os.path.join(root, "docs/src/SUMMARY.md")).read())
passed, failed = 1, 0  # the build
for chapter in chapters:
    name = chapter + ".html"
    broken = []
    p = page(name)
    if p is None:
        broken.append(f"docs/src/{chapter}.md: mdBook wrote no {name}")
    else:
        for href in p.links:
            if re.match(r"^[a-z]+:", href):
                continue  # the web, mail: not followed
            target, _, frag = href.partition("#")
            check(target or name, frag, f"docs/src/{chapter}.md: link {href}", broken)
    for b in broken:
        print("book: broken link: " + b, file=sys.stderr)
    passed, failed = passed + (not broken), failed + bool(broken)

broken = []
readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
readme = re.sub(r"(?ms)^```.*?^```", "", readme)  # links inside code are not links
for href in re.findall(r"\]\(([^)\s]+)\)", readme):
    if re.match(r"^[a-z]+:", href):
        continue
    target, _, frag = href.partition("#")
    if target.startswith("docs/src/") and target.endswith(".md"):
        name = target[len("docs/src/"):-3] + ".html"
        if target == "docs/src/SUMMARY.md":
            name = "index.html"
        check(name, frag, f"README.md: link {href}", broken)
    elif not os.path.exists(os.path.join(root, target)):
        broken.append(f"README.md: link {href}: no such file")
for b in broken:
    print("book: broken link: " + b, file=sys.stderr)
passed, failed = passed + (not broken), failed + bool(broken)
print(f"book: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
