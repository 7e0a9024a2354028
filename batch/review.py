"""The review page of a run: OUT/review/index.html, one static page to go through a whole archive.

    collect(output_root)                 -> Entry per input the run recorded (manifest, then report)
    build_review(output_root, workers)   -> writes the thumbnails and the page; returns a Review

An archivist cannot look at 20,000 outputs one by one, nor grep a JSON report for what went
wrong. The page shows every picture before (its lightness, as neutral grey) and after, the
least confident first when the model recorded a confidence, and every failed or skipped file
with its reason, so one page answers "what happened to my archive, and what should I check".

It needs no server and no internet: the CSS and JS are inline, the data is one compact JSON
array rendered by the script in pages as the reader scrolls (so 20,000 entries open fast),
the thumbnails are small JPEGs under review/thumbs/ loaded lazily, and the links to the
full-resolution outputs are relative (the folder can be moved or served as it is).

Where the data comes from: the manifest (.colored-manifest.jsonl, the last entry per input
wins) holds every recorded outcome of every run in the folder; the latest colored-report.json
adds what a run reported but never records (entries the walk could not read, files left alone
because a file that is not ColorED's has the output's name). The grey "before" is the output's
own lightness, which the merge keeps equal to the input's, so the page needs no input folder.

Thumbnails are named by a hash of (output name, size, mtime): a rebuild reuses those of outputs
that did not change, makes new ones for those that did, and removes the ones nothing shows.
Every file is written atomically (colored.atomic).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import click
import numpy as np
from PIL import Image

from batch.manifest import MANIFEST_NAME
from batch.names import has_raw_bytes, shown
from batch.results import ALREADY_DONE, DONE, FAILED, FAILED_EARLIER, SKIPPED, Result
from colored.atomic import atomic_path, atomic_write_bytes, write_reason

REVIEW_DIR = "review"
PAGE_NAME = "index.html"
THUMBS_DIR = "thumbs"
REPORT_NAME = "colored-report.json"
THUMB_BOX = 240  # longest side of a thumbnail, pixels
THUMB_QUALITY = 82
# What a thumbnail of ours is called (thumbs/<2 hex>/<16 hex>.<c|g>.jpg): only these are ever removed.
THUMB_NAME = re.compile(r"[0-9a-f]{16}\.[cg]\.jpg")

# The page's three groups: an earlier run's outcome counts as what it was.
GROUP_OF = {DONE: DONE, ALREADY_DONE: DONE, FAILED: FAILED, FAILED_EARLIER: FAILED, SKIPPED: SKIPPED}


class ReviewError(Exception):
    """The page cannot be built for this folder; the message names the folder and why."""


@dataclass
class Entry:
    """One input as the page shows it."""

    input: str  # relative to the input folder, '/'-separated (may hold \\udcXX escapes)
    output: str | None  # relative to the output folder
    status: str  # done, failed or skipped (GROUP_OF)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    confidence: float | None = None
    output_bytes: int | None = None
    thumb: str | None = None  # thumbnail key (thumb_key), None when there is no picture to show


@dataclass
class Review:
    """What build_review did."""

    page: Path
    entries: list[Entry]
    made: int  # thumbnails written now
    reused: int  # thumbnails kept from an earlier build
    removed: int  # thumbnails of outputs no longer shown
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        c = {DONE: 0, FAILED: 0, SKIPPED: 0}
        for e in self.entries:
            c[e.status] += 1
        return c


def _entry(r: Result) -> Entry | None:
    group = GROUP_OF.get(r.status)
    if group is None:
        return None
    return Entry(r.input, r.output if group == DONE else None, group, reason=r.reason, notes=list(r.notes),
                 confidence=getattr(r, "confidence", None), output_bytes=r.output_bytes)


def _manifest_results(root: Path) -> dict[str, Result]:
    """The last manifest entry per input (a torn or foreign line is skipped, as the manifest does)."""
    out: dict[str, Result] = {}
    path = root / MANIFEST_NAME
    if not path.exists():
        return out
    with open(path, "rb") as f:
        for line in f:
            try:
                r = Result.from_dict(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            out[r.input] = r
    return out


def _report_results(root: Path) -> list[Result]:
    """The rows of the latest colored-report.json, or none when it is missing or unreadable."""
    path = root / REPORT_NAME
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        rows = doc["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for d in rows:
        try:
            out.append(Result.from_dict(d))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def collect(output_root: str | Path) -> list[Entry]:
    """Every input the runs in ``output_root`` recorded or reported, sorted by path.

    Raises ReviewError when the folder holds no run (no manifest and no report)."""
    root = Path(output_root)
    if not root.is_dir():
        raise ReviewError(f"{root}: not a folder")
    if not (root / MANIFEST_NAME).exists() and not (root / REPORT_NAME).exists():
        raise ReviewError(f"{root}: no ColorED run here (no {MANIFEST_NAME} or {REPORT_NAME})")
    results = _manifest_results(root)
    for r in _report_results(root):
        results.setdefault(r.input, r)  # the manifest's record wins; the report adds the unrecorded
    entries = [e for e in map(_entry, results.values()) if e is not None]
    return sorted(entries, key=lambda e: e.input)


def thumb_key(root: Path, entry: Entry) -> str | None:
    """A name for this output's thumbnails that changes when the output does; None if it is gone."""
    if entry.output is None:
        return None
    try:
        st = (root / entry.output).stat()
    except OSError:
        return None
    key = f"{entry.output}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:16]


def thumb_paths(review: Path, key: str) -> tuple[Path, Path]:
    """(colour, grey) thumbnail files of a key."""
    folder = review / THUMBS_DIR / key[:2]
    return folder / f"{key}.c.jpg", folder / f"{key}.g.jpg"


def make_thumbs(output: Path, colour_path: Path, grey_path: Path, box: int = THUMB_BOX) -> None:
    """Write the colour thumbnail of ``output`` and its grey twin (the output's lightness, which
    the merge keeps equal to the input's) as JPEGs, atomically. Raises images.ImageError/OSError."""
    from batch import images
    from batch.colorize import lightness
    from batch.preview import fit_to_box, to_rgb8
    from colored.color import lightness_to_gray

    rgb = to_rgb8(fit_to_box(images.decode(output).pixels, box))
    L = lightness(np.ascontiguousarray(rgb), True, None)
    grey = np.round(np.clip(lightness_to_gray(L), 0, 1) * 255).astype(np.uint8)
    for path, img in ((colour_path, Image.fromarray(rgb)), (grey_path, Image.fromarray(grey, mode="L"))):
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            img.save(tmp, format="JPEG", quality=THUMB_QUALITY)


def _thumb_or_note(root: Path, review: Path, entry: Entry) -> bool | None:
    """Give ``entry`` its thumbnails: True made now, False reused, None none (a note says why)."""
    key = thumb_key(root, entry)
    if key is None:
        if entry.output is not None:
            entry.notes.append("output missing from the output folder")
        return None
    colour, grey = thumb_paths(review, key)
    if colour.exists() and grey.exists():
        entry.thumb = key
        return False
    try:
        make_thumbs(root / entry.output, colour, grey)
    except Exception as e:  # one unreadable output must not stop the page
        entry.notes.append(f"no thumbnail: {getattr(e, 'reason', None) or e}")
        return None
    entry.thumb = key
    return True


def _remove_stale(review: Path, keep: set[str]) -> int:
    """Remove our thumbnails whose key nothing shows any more; returns how many."""
    removed = 0
    base = review / THUMBS_DIR
    if not base.is_dir():
        return 0
    for folder in base.iterdir():
        if not folder.is_dir():
            continue
        for f in folder.iterdir():
            if THUMB_NAME.fullmatch(f.name) and f.name[:16] not in keep:
                try:
                    f.unlink()
                    removed += 1
                except OSError:
                    pass
        try:
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return removed


def page_rows(entries: Iterable[Entry]) -> list[list]:
    """The page's data, one compact array per entry:
    [input, output or 0 (0: none, 1: same name as the input), status, reason, confidence or null,
     thumbnail key or 0, notes, href or 0 (only for names that are not UTF-8: their bytes, %-encoded)].
    Names are shown as the terminal shows them (undecodable bytes as \\xNN)."""
    rows = []
    for e in entries:
        out: str | int = 0 if e.output is None else 1 if e.output == e.input else shown(e.output)
        href: str | int = 0
        if e.output is not None and has_raw_bytes(e.output):
            href = quote(os.fsencode(e.output))
        conf = None if e.confidence is None else round(float(e.confidence), 4)
        rows.append([shown(e.input), out, e.status, shown(e.reason), conf, e.thumb or 0,
                     [shown(n) for n in e.notes], href])
    return rows


def _json_for_script(obj: object) -> str:
    """JSON that can sit inside <script>: no '<' (so no '</script>' or '<!--' in a name can end it)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(entries: list[Entry], title: str) -> str:
    """The whole page as text: template, inline CSS/JS and the data."""
    meta = {"title": title, "confidence": any(e.confidence is not None for e in entries)}
    return (_TEMPLATE.replace("__TITLE__", _html_escape(title))
            .replace("__META__", _json_for_script(meta))
            .replace("__DATA__", _json_for_script(page_rows(entries))))


def _html_escape(text: str) -> str:
    return shown(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def build_review(output_root: str | Path, workers: int = 2,
                 on_entry: Callable[[Entry], None] | None = None) -> Review:
    """Write OUTPUT_ROOT/review/index.html and its thumbnails for the runs recorded there.

    ``workers`` threads decode outputs for new thumbnails (the first build of a large archive
    reads every output once; a rebuild only the changed ones). Raises ReviewError for a folder
    with no run, OSError when the review folder cannot be written."""
    started = time.perf_counter()
    root = Path(output_root)
    entries = collect(root)
    review = root / REVIEW_DIR
    review.mkdir(parents=True, exist_ok=True)

    def one(entry: Entry) -> bool | None:
        made = _thumb_or_note(root, review, entry)
        if on_entry is not None:
            on_entry(entry)
        return made

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        outcomes = list(pool.map(one, entries))
    removed = _remove_stale(review, {e.thumb for e in entries if e.thumb})
    page = review / PAGE_NAME
    title = f"ColorED review: {root.resolve().name or root}"
    atomic_write_bytes(page, render_page(entries, title).encode("utf-8"))
    return Review(page, entries, made=sum(o is True for o in outcomes), reused=sum(o is False for o in outcomes),
                  removed=removed, seconds=time.perf_counter() - started)


def summary_line(review: Review) -> str:
    """One line for the terminal: where the page is and what it holds."""
    c = review.counts
    return (f"review: {review.page} ({len(review.entries)} files: {c[DONE]} done, {c[FAILED]} failed, "
            f"{c[SKIPPED]} skipped; thumbnails {review.made} new, {review.reused} reused, {review.seconds:.1f} s)")


_TEMPLATE = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
:root{--split:0%}
body{font:14px/1.35 system-ui,sans-serif;margin:0;background:#f4f4f2;color:#222}
header{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #ccc;padding:8px 12px}
header h1{font-size:16px;margin:0 0 6px}
header label{margin-right:14px;white-space:nowrap}
#count{font-weight:600;margin-right:14px}
#grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px;padding:12px}
.card{background:#fff;border:1px solid #ddd;border-radius:4px;padding:5px;overflow:hidden}
.card.failed{border-color:#c33;background:#fff6f6}.card.skipped{border-color:#b90;background:#fffbef}
.pic{position:relative;height:240px;display:flex;align-items:center;justify-content:center;cursor:pointer;background:#eee}
.pic img{max-width:100%;max-height:240px;display:block}
.frame{position:relative;line-height:0}
.pic img.before{position:absolute;left:0;top:0;width:100%;height:100%;clip-path:inset(0 calc(100% - var(--split)) 0 0)}
.card.flip .pic img.before{clip-path:none}
.pic .none{color:#777;padding:8px;text-align:center}
.path{word-break:break-all;margin-top:4px}.path a{color:#124}
.st{display:inline-block;padding:0 5px;border-radius:3px;font-size:12px;margin-right:6px;color:#fff;background:#393}
.failed .st{background:#c33}.skipped .st{background:#b90}
.conf{font-variant-numeric:tabular-nums;color:#333}
.reason{color:#900;margin-top:3px}.skipped .reason{color:#750}
.notes{color:#666;font-size:12px;margin-top:3px}
#more{height:40px}
</style></head><body>
<header><h1>__TITLE__</h1>
<span id="count"></span>
<label>status <select id="status"><option value="">all</option><option value="done">done</option><option value="failed">failed</option><option value="skipped">skipped</option></select></label>
<label>folder <select id="folder"><option value="">all</option></select></label>
<label>sort <select id="sort"><option value="conf">least confident first</option><option value="path">by path</option></select></label>
<label>before <input id="split" type="range" min="0" max="100" value="100"> after</label>
<span id="hint">(click a picture to flip it)</span>
</header>
<div id="grid"></div><div id="more"></div>
<script id="meta" type="application/json">__META__</script>
<script id="data" type="application/json">__DATA__</script>
<script>
"use strict";
const META=JSON.parse(document.getElementById("meta").textContent);
const ROWS=JSON.parse(document.getElementById("data").textContent);
const PAGE=200;
const grid=document.getElementById("grid"),more=document.getElementById("more");
const $=id=>document.getElementById(id);
let shown=[],next=0;
function folderOf(p){const i=p.lastIndexOf("/");return i<0?".":p.slice(0,i);}
function href(r){if(r[7])return"../"+r[7];const o=r[1]===1?r[0]:r[1];
  try{return"../"+o.split("/").map(encodeURIComponent).join("/");}catch(e){return null;}}
function thumb(k,kind){return"thumbs/"+k.slice(0,2)+"/"+k+"."+kind+".jpg";}
(function folders(){const set=new Set();for(const r of ROWS){let f=folderOf(r[0]);
  while(true){set.add(f);const i=f.lastIndexOf("/");if(f==="."||i<0)break;f=f.slice(0,i);}}
  const sel=$("folder");for(const f of [...set].sort()){const o=document.createElement("option");o.value=f;
  o.textContent=f==="."?"(top folder only)":f;sel.appendChild(o);}})();
if(!META.confidence){$("sort").value="path";$("sort").options[0].disabled=true;$("sort").options[0].textContent="least confident first (none recorded)";}
function card(r){
  const c=document.createElement("div");c.className="card "+r[2];c.dataset.input=r[0];
  const pic=document.createElement("div");pic.className="pic";
  if(r[5]){const a=document.createElement("img");a.className="after";a.loading="lazy";a.src=thumb(r[5],"c");a.alt="after";
    const b=document.createElement("img");b.className="before";b.loading="lazy";b.src=thumb(r[5],"g");b.alt="before";
    const fr=document.createElement("span");fr.className="frame";fr.append(a,b);pic.append(fr);pic.onclick=()=>c.classList.toggle("flip");}
  else{const n=document.createElement("div");n.className="none";n.textContent=r[2]==="done"?"no thumbnail":"not colorized";pic.append(n);}
  const p=document.createElement("div");p.className="path";
  const st=document.createElement("span");st.className="st";st.textContent=r[2];p.append(st);
  const h=r[1]!==0?href(r):null;
  if(h){const a=document.createElement("a");a.href=h;a.textContent=r[0];a.title="full-resolution output";p.append(a);}
  else p.append(document.createTextNode(r[0]));
  c.append(pic,p);
  if(r[4]!==null){const k=document.createElement("div");k.className="conf";k.textContent="confidence "+r[4].toFixed(3);c.append(k);}
  if(r[3]){const k=document.createElement("div");k.className="reason";k.textContent=r[3];c.append(k);}
  if(r[6].length){const k=document.createElement("div");k.className="notes";k.textContent=r[6].join("; ");c.append(k);}
  return c;}
function render(n){const end=Math.min(shown.length,next+n);const frag=document.createDocumentFragment();
  for(;next<end;next++)frag.appendChild(card(shown[next]));grid.appendChild(frag);}
function byConf(a,b){const x=a[4],y=b[4];if(x!==y){if(x===null)return 1;if(y===null)return -1;return x-y;}
  return a[0]<b[0]?-1:a[0]>b[0]?1:0;}
function byPath(a,b){return a[0]<b[0]?-1:a[0]>b[0]?1:0;}
function update(){const s=$("status").value,f=$("folder").value;
  shown=ROWS.filter(r=>(!s||r[2]===s)&&(!f||(f==="."?r[0].indexOf("/")<0:r[0].startsWith(f+"/"))));
  shown.sort($("sort").value==="conf"?byConf:byPath);
  const c={done:0,failed:0,skipped:0};for(const r of shown)c[r[2]]++;
  $("count").textContent=shown.length+" of "+ROWS.length+" files ("+c.done+" done, "+c.failed+" failed, "+c.skipped+" skipped)";
  $("count").dataset.shown=shown.length;$("count").dataset.total=ROWS.length;
  grid.textContent="";next=0;render(PAGE);}
new IntersectionObserver(es=>{if(es.some(e=>e.isIntersecting)&&next<shown.length)render(PAGE);},{rootMargin:"800px"}).observe(more);
for(const id of ["status","folder","sort"])$(id).onchange=update;
$("split").oninput=e=>grid.style.setProperty("--split",(100-e.target.value)+"%");
update();
window.colored_review={rows:()=>shown.length,renderAll:()=>render(shown.length)};
</script></body></html>
"""


__all__ = ["Entry", "Review", "ReviewError", "collect", "build_review", "render_page", "page_rows",
           "summary_line", "thumb_key", "thumb_paths", "make_thumbs", "REVIEW_DIR", "PAGE_NAME"]


EPILOG = """\b
Examples:
  colored-review ./colorized                 # then open ./colorized/review/index.html
  colored-review /mnt/out --workers 8        # a large archive: more threads for the thumbnails
  colored-batch ./archive ./colorized --review   # the same, at the end of a run

\b
The page is built from what the runs in OUTPUT_DIR recorded (.colored-manifest.jsonl and the
latest colored-report.json); colored-watch output folders work too. Thumbnails go to
OUTPUT_DIR/review/thumbs/ and are reused by the next build for outputs that did not change.
Exit status: 0 page written, 2 no run in OUTPUT_DIR or the page could not be written.
"""


@click.command(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("output_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--workers", type=click.IntRange(1), default=min(4, os.cpu_count() or 1), show_default=True,
              help="Threads that read outputs to make new thumbnails.")
def main(output_dir: Path, workers: int) -> None:
    """Write OUTPUT_DIR/review/index.html: every picture before and after, least confident first,
    failed and skipped files with their reasons; one static page, no server needed."""
    try:
        done = build_review(output_dir, workers=workers)
    except ReviewError as e:
        click.echo(f"colored-review: {e}", err=True)
        raise SystemExit(2) from None
    except OSError as e:
        click.echo(f"colored-review: {e.filename or output_dir}: cannot write the review page: "
                   f"{write_reason(e)}", err=True)
        raise SystemExit(2) from None
    click.echo(summary_line(done))


if __name__ == "__main__":
    main()
