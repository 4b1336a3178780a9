"""Headless Chromium helper for tests: load a local HTML file, probe its DOM, take a screenshot.

Dependency-free: runs the ``chromium`` binary (Debian package ``chromium``) with ``--dump-dom``
on a copy of the page with a small probe script injected at the top of ``<head>``. The probe
records console calls and resource-load errors from the very start, and on ``load`` writes a
JSON summary into the DOM: every image (id, complete, naturalWidth), every inline SVG (id,
number of child elements, rendered size) and every network resource the page requested.
Chromium's own console log (``--enable-logging=stderr``) is parsed as a second source. All
name resolution is mapped to a failure, so a page that tries the network gets errors, not data.

A missing Chromium raises :class:`BrowserMissing` with the install command: tests must FAIL,
never skip, when the browser is absent.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL = "apt-get install -y --no-install-recommends chromium"
_PROBE_ID = "__calib_probe__"
_PROBE = """<script>(function(){
var log=[];
['error','warn','log','info'].forEach(function(k){var o=console[k];
 console[k]=function(){log.push(k+': '+Array.prototype.join.call(arguments,' '));
 return o.apply(console,arguments);};});
window.addEventListener('error',function(e){var t=e.target||{};
 log.push('error: '+(e.message||('failed to load '+(t.src||t.href||t.tagName))));},true);
window.addEventListener('load',function(){setTimeout(function(){
 var imgs=Array.prototype.map.call(document.images,function(i){
  return {id:i.id,complete:i.complete,naturalWidth:i.naturalWidth,width:i.width,
          height:i.height};});
 var svgs=Array.prototype.map.call(document.querySelectorAll('svg'),function(s){
  var r=s.getBoundingClientRect();
  return {id:s.id,elements:s.querySelectorAll('*').length,width:r.width,height:r.height};});
 var res=performance.getEntriesByType('resource').map(function(e){return e.name;});
 var p=document.createElement('pre');p.id='__ID__';
 p.textContent=JSON.stringify({images:imgs,svgs:svgs,resources:res,console:log,
  ids:Array.prototype.map.call(document.querySelectorAll('[id]'),function(e){return e.id;})});
 document.body.appendChild(p);},50);});
})();</script>""".replace("__ID__", _PROBE_ID)
_CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[^\]]*\]\s*(.*)")


class BrowserMissing(RuntimeError):
    """No Chromium binary on PATH."""


@dataclass(frozen=True)
class PageProbe:
    """What the probe saw: images, inline SVGs, network resources, console messages, ids."""

    images: list[dict]
    svgs: list[dict]
    resources: list[str]
    console: list[str]
    ids: list[str]


def chromium() -> str:
    """Path of the Chromium binary; raises BrowserMissing naming the install command."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserMissing(f"headless Chromium is needed for the report browser test; install it "
                         f"with `{INSTALL}` (Debian) and re-run")


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="calib-chromium-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
               *args]
        env = {**os.environ, "HOME": profile}
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)


def probe(html: Path, timeout: float = 90) -> PageProbe:
    """Load ``html`` (a copy with the probe injected) headless and return what the probe saw."""
    src = Path(html).read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="calib-probe-") as tmp:
        page = Path(tmp) / "page.html"
        page.write_text(src.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
        out = _run(["--virtual-time-budget=10000", "--window-size=1280,2000", "--dump-dom",
                    page.as_uri()], timeout)
    m = re.search(rf'<pre id="{_PROBE_ID}">(.*?)</pre>', out.stdout, re.S)
    if m is None:
        raise RuntimeError(f"the probe did not report (chromium rc={out.returncode}); "
                           f"stderr tail:\n{out.stderr[-2000:]}")
    text = m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
    data = json.loads(text.replace("&amp;", "&"))
    console = data["console"] + [c for c in _CONSOLE.findall(out.stderr)]
    return PageProbe(data["images"], data["svgs"], data["resources"], console, data["ids"])


def screenshot(html: Path, png: Path, size: tuple[int, int] = (1280, 4000),
               timeout: float = 90) -> Path:
    """Screenshot ``html`` at ``size`` (width, height) into ``png``; returns ``png``."""
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    out = _run(["--virtual-time-budget=10000", f"--window-size={size[0]},{size[1]}",
                f"--screenshot={png}", Path(html).resolve().as_uri()], timeout)
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (rc={out.returncode}); stderr tail:\n"
                           f"{out.stderr[-2000:]}")
    return png
