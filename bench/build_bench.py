"""Benchmark `portal build` against Hugo and Pelican on the same generated corpus.

    python bench/build_bench.py [--articles 4000] [--rounds 5] [--quick] [--pelican-python PATH]

Generates N Vietnamese articles (front matter, headings, paragraphs, some tables and
figures) into a temporary site, then times, each as a fresh process:

* `portal build`: cold (no output, no cache), again with no change, and after editing one
  article's body;
* `hugo` (if on PATH): a cold build of the same articles with equivalent templates (home and
  category pages paginated by 10, article pages with a cached "latest" list, RSS, sitemap);
* Pelican (if it can be run): a cold build of the same articles with its default theme.
  Pelican is kept out of the project's dependencies: give a Python that has it with
  `--pelican-python` or PORTAL_BENCH_PELICAN_PYTHON, or the script makes a throwaway
  virtualenv in the temporary directory and installs it with pip.

Each round times every tool once, side by side; ratios are taken within a round and their
medians reported with their range (the noise). Targets: cold <= 0.9x Hugo, >= 5x faster
than Pelican, no-change <= 0.06x and one edit to an older article's body <= 0.15x of
Hugo's cold build. `--quick`: 1,000 articles, 2 rounds, no Pelican (a check of direction).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "site"

CATEGORIES = [
    ("tin-tuc", "Tin tức \u2013 Sự kiện"),
    ("thong-bao", "Thông báo"),
    ("kinh-te-xa-hoi", "Kinh tế \u2013 Xã hội"),
    ("van-hoa-du-lich", "Văn hóa \u2013 Du lịch"),
]
TOPICS = [
    "Hội nghị triển khai nhiệm vụ",
    "Kiểm tra tiến độ xây dựng nông thôn mới",
    "Tập huấn chuyển đổi số",
    "Thông báo lịch tiếp công dân",
    "Lễ hội truyền thống",
    "Khánh thành công trình giao thông",
    "Thu hoạch lúa hè thu",
    "Tuyên dương học sinh giỏi",
    "Tiêm chủng mở rộng",
    "Đối thoại với thanh niên",
]
PLACES = [
    "xã Bến Mây",
    "xã Tân Lập",
    "xã Đồng Sương",
    "xã Phú Hòa",
    "thị trấn Sông Mây",
    "xã Đắk Rơ",
]
SENTENCES = [
    "Ủy ban nhân dân huyện Sông Mây đã tổ chức hội nghị với lãnh đạo các phòng, ban.",
    "Theo báo cáo, các chỉ tiêu chủ yếu đều đạt và vượt kế hoạch đề ra trong kỳ.",
    "Người dân đồng tình, ủng hộ và tích cực tham gia đóng góp ngày công, hiến đất làm đường.",
    "Đồng chí Chủ tịch UBND huyện yêu cầu các đơn vị khắc phục hạn chế, đẩy nhanh tiến độ.",
    "Công tác cải cách hành chính tiếp tục có chuyển biến, tỷ lệ hồ sơ trực tuyến tăng mạnh.",
    "Nhiều mô hình sản xuất hiệu quả được nhân rộng, thu nhập bình quân đầu người tăng.",
    "Ngành giáo dục chuẩn bị tốt cơ sở vật chất cho năm học mới, bảo đảm an toàn trường học.",
    "Trung tâm Y tế huyện khuyến cáo người dân chủ động phòng bệnh trong mùa mưa.",
    "Các xã, thị trấn tăng cường tuyên truyền để nhân dân hiểu và thực hiện đúng quy định.",
    "Huyện tiếp tục thu hút đầu tư, phát triển du lịch gắn với bảo tồn văn hóa truyền thống.",
]
IMAGES = ["hoi-truong", "canh-dong", "cay-cau", "truong-hoc", "dua-thuyen", "tram-y-te"]


def make_corpus(n: int) -> list[dict[str, str]]:
    """N articles as plain data (each generator writes them in its own format)."""
    rng = random.Random(4000)
    articles = []
    for i in range(n):
        cat_id, cat_name = CATEGORIES[i % len(CATEGORIES)]
        day = 1 + (i * 7919) % (365 * 3)
        month, mday = 1 + (day // 28) % 12, 1 + day % 28
        year = 2021 + day // 365
        hour, minute = 7 + i % 10, (i * 13) % 60
        title = f"{TOPICS[i % len(TOPICS)]} tại {PLACES[i % len(PLACES)]} năm {year} (số {i})"
        paragraphs = [
            " ".join(rng.choice(SENTENCES) for _ in range(rng.randint(3, 5))) for _ in range(6)
        ]
        body = [paragraphs[0], paragraphs[1], "## Kết quả nổi bật", paragraphs[2], paragraphs[3]]
        if i % 5 == 0:
            body.append(
                "| Chỉ tiêu | Kết quả | So với cùng kỳ |\n|---|---|---|\n"
                f"| Thu ngân sách | {50 + i % 40} tỷ đồng | tăng {i % 9},{i % 10}% |\n"
                f"| Hồ sơ đúng hạn | {90 + i % 10}% | tăng {i % 4} điểm |"
            )
        image = IMAGES[i % len(IMAGES)]
        if i % 4 == 0:
            body.append(
                f'![Ảnh minh họa {image}](/static/img/bai-viet/{image}.svg "Ảnh: hoạt động số {i}")'
            )
        body += ["## Nhiệm vụ thời gian tới", paragraphs[4], paragraphs[5]]
        articles.append(
            {
                "title": title,
                "date": f"{year}-{month:02d}-{mday:02d}T{hour:02d}:{minute:02d}:00+07:00",
                "category": cat_id,
                "category_name": cat_name,
                "author": f"Phóng viên {PLACES[i % len(PLACES)]}",
                "summary": paragraphs[0][:180],
                "body": "\n\n".join(body) + "\n",
                "file": f"{cat_id}/bai-{i:05d}.md",
            }
        )
    return articles


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_portal(root: Path, corpus: Sequence[dict[str, str]]) -> Path:
    site = root / "portal-site"
    shutil.copytree(SITE, site, ignore=shutil.ignore_patterns("content"))
    for a in corpus:
        path = site / "content" / a["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "---\n"
            f"title: {_quote(a['title'])}\n"
            f"date: {a['date']}\n"
            f"category: {a['category']}\n"
            f"author: {_quote(a['author'])}\n"
            f"summary: {_quote(a['summary'])}\n"
            "---\n\n" + a["body"],
            encoding="utf-8",
        )
    return site


HUGO_BASEOF = """<!DOCTYPE html>
<html lang="vi"><head><meta charset="utf-8"><title>{{ .Title }}</title>
<meta name="description"
 content="{{ with .Description }}{{ . }}{{ else }}{{ .Summary | plainify }}{{ end }}">
<link rel="stylesheet" href="/static/css/site.css"></head>
<body><a href="#noi-dung">Bỏ qua</a><header><nav><ul>
{{ range .Site.Taxonomies.categories }}
<li><a href="{{ .Page.RelPermalink }}">{{ .Page.Title }}</a></li>
{{ end }}</ul></nav></header>
<main id="noi-dung">{{ block "main" . }}{{ end }}</main>
<aside><h2>Tin mới nhất</h2>{{ partialCached "latest.html" . }}</aside>
</body></html>
"""
HUGO_LATEST = """<ul>{{ range first 6 .Site.RegularPages.ByDate.Reverse }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a>
 ({{ .Date.Format "02/01/2006 3:04 PM" }})</li>{{ end }}</ul>
"""
HUGO_SINGLE = """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>Đăng ngày {{ .Date.Format "02 - 01 - 2006" }}</p>
{{ .Content }}<p>{{ .Params.author }}</p></article>{{ end }}
"""
HUGO_LIST = """{{ define "main" }}<h1>{{ .Title }}</h1><ol>{{ range .Paginator.Pages }}
<li><h2><a href="{{ .RelPermalink }}">{{ .Title }}</a></h2>
<p>{{ .Date.Format "02/01/2006 3:04 PM" }}</p><p>{{ .Summary }}</p></li>{{ end }}</ol>
{{ template "_internal/pagination.html" . }}{{ end }}
"""


def write_hugo(root: Path, corpus: Sequence[dict[str, str]]) -> Path:
    site = root / "hugo-site"
    (site / "layouts/_default").mkdir(parents=True)
    (site / "layouts/partials").mkdir(parents=True)
    (site / "config.toml").write_text(
        'baseURL = "https://songmay.example.gov.vn/"\nlanguageCode = "vi"\n'
        'title = "Cổng thông tin điện tử huyện Sông Mây"\ntimeZone = "Asia/Ho_Chi_Minh"\n'
        'paginate = 10\nenableRobotsTXT = true\ndisableKinds = ["section"]\n'
        '[taxonomies]\ncategory = "categories"\n',
        encoding="utf-8",
    )
    layouts = site / "layouts"
    (layouts / "_default/baseof.html").write_text(HUGO_BASEOF, encoding="utf-8")
    (layouts / "_default/single.html").write_text(HUGO_SINGLE, encoding="utf-8")
    (layouts / "_default/list.html").write_text(HUGO_LIST, encoding="utf-8")
    (layouts / "index.html").write_text(HUGO_LIST, encoding="utf-8")
    (layouts / "404.html").write_text(
        '{{ define "main" }}<h1>Không tìm thấy trang</h1>{{ end }}', encoding="utf-8"
    )
    (layouts / "partials/latest.html").write_text(HUGO_LATEST, encoding="utf-8")
    shutil.copytree(SITE / "static", site / "static" / "static")
    for a in corpus:
        path = site / "content" / "bai-viet" / a["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "---\n"
            f"title: {_quote(a['title'])}\n"
            f"date: {a['date']}\n"
            f"categories: [{_quote(a['category_name'])}]\n"
            f"author: {_quote(a['author'])}\n"
            f"summary: {_quote(a['summary'])}\n"
            "---\n\n" + a["body"],
            encoding="utf-8",
        )
    return site


PELICAN_CONF = """
AUTHOR = "Ban biên tập"
SITENAME = "Cổng thông tin điện tử huyện Sông Mây"
SITEURL = ""
PATH = "content"
STATIC_PATHS = ["static"]
TIMEZONE = "Asia/Ho_Chi_Minh"
DEFAULT_LANG = "vi"
DEFAULT_PAGINATION = 10
DEFAULT_DATE_FORMAT = "%d - %m - %Y"
FEED_ALL_ATOM = "feeds/all.atom.xml"
FEED_ALL_RSS = "feeds/all.rss.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
CATEGORY_FEED_RSS = "feeds/{slug}.rss.xml"
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
TAG_SAVE_AS = ""
TAGS_SAVE_AS = ""
LOAD_CONTENT_CACHE = False
"""


def write_pelican(root: Path, corpus: Sequence[dict[str, str]]) -> Path:
    site = root / "pelican-site"
    (site / "content").mkdir(parents=True)
    (site / "pelicanconf.py").write_text(PELICAN_CONF, encoding="utf-8")
    shutil.copytree(SITE / "static", site / "content" / "static")
    for a in corpus:
        path = site / "content" / a["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        date = a["date"][:16].replace("T", " ")
        summary = a["summary"].replace("\n", " ")
        path.write_text(
            f"Title: {a['title']}\nDate: {date}\nCategory: {a['category_name']}\n"
            f"Author: {a['author']}\nSummary: {summary}\n\n" + a["body"],
            encoding="utf-8",
        )
    return site


CPU: dict[str, float] = {}  # CPU seconds (user + system, all processes) per measurement


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(
    cmd: Sequence[str], cwd: Path, env: dict[str, str] | None = None, label: str = ""
) -> float:
    """Wall-clock seconds of one run (its CPU seconds go to CPU[label], lowest kept)."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if label:
        CPU[label] = min(cpu, CPU.get(label, cpu))
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def remove_output(out: Path) -> None:
    """A portal output: the symlink, its generations, and the cache beside them."""
    if out.is_symlink():
        out.unlink()
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".gen"), ignore_errors=True)
    shutil.rmtree(out.parent / ".portal-cache", ignore_errors=True)


def spread(values: Sequence[float]) -> str:
    """Median, and the range as the noise."""
    return f"{statistics.median(values):6.3f}  ({min(values):.3f} to {max(values):.3f})"


def find_pelican(arg: str | None, root: Path) -> str | None:
    candidate = arg or os.environ.get("PORTAL_BENCH_PELICAN_PYTHON")
    if candidate:
        return candidate
    venv = root / "pelican-venv"
    print("making a throwaway virtualenv with Pelican (pip install pelican markdown)…")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin/pip"), "install", "-q", "pelican", "markdown"],
            check=True,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"  Pelican unavailable ({exc}); skipping it")
        return None
    return str(venv / "bin/python")


def portal_round(
    cmd: list[str], out: Path, target: Path, k: int, env: dict[str, str]
) -> dict[str, float]:
    """One cold build, one build with no change, one build after editing one body."""
    remove_output(out)
    times = {"portal cold": timed(cmd, REPO, env, "portal cold")}
    times["portal no-change"] = timed(cmd, REPO, env, "portal no-change")
    with target.open("a", encoding="utf-8") as f:
        f.write(f"\nĐoạn bổ sung lần {k + 1}: cập nhật thông tin mới nhất.\n")
    times["portal one edit"] = timed(cmd, REPO, env, "portal one edit")
    return times


def hugo_cold(hugo_site: Path, root: Path) -> float:
    shutil.rmtree(root / "hugo-out", ignore_errors=True)
    return timed(["hugo", "--quiet", "-d", str(root / "hugo-out")], hugo_site, label="hugo cold")


def pelican_cold(python: str, pelican_site: Path, root: Path) -> float:
    shutil.rmtree(root / "pelican-out", ignore_errors=True)
    cmd = [python, "-m", "pelican", "content", "-o", str(root / "pelican-out")]
    return timed([*cmd, "-s", "pelicanconf.py", "-q"], pelican_site, label="pelican cold")


TARGETS = {
    "portal cold / hugo cold": "<= 0.9",
    "portal no-change / hugo cold": "<= 0.06",
    "portal one edit / hugo cold": "<= 0.15",
    "pelican cold / portal cold": ">= 5",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians are reported)")
    parser.add_argument("--quick", action="store_true", help="1,000 articles, 2 rounds, no Pelican")
    parser.add_argument("--workers", type=int, default=None, help="portal build --workers")
    parser.add_argument("--pelican-python", default=None, help="a Python with Pelican")
    parser.add_argument("--no-hugo", action="store_true")
    parser.add_argument("--no-pelican", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--tmp", default=None, help="where to make the temporary directory (e.g. /dev/shm)"
    )
    args = parser.parse_args()
    if args.quick:
        args.articles, args.rounds, args.no_pelican = 1000, 2, True

    root = Path(tempfile.mkdtemp(prefix="portal-bench-", dir=args.tmp))
    try:
        corpus = make_corpus(args.articles)
        print(f"{args.articles} articles, {os.cpu_count()} CPUs, temp dir {root}")
        print(f"load average at the start: {os.getloadavg()[0]:.1f}")
        portal_site = write_portal(root, corpus)
        # portal runs as an installed package does: from bytecode compiled once (pip compiles
        # at install), not recompiling its modules in every process (as it would where
        # PYTHONDONTWRITEBYTECODE is set: hugo is a compiled binary).
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        }
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(REPO / "portal"), str(REPO / "server")],
            check=True,
            env=env,
        )
        out = root / "portal-out"
        cmd = [sys.executable, "-m", "portal", "build", str(portal_site), "-o", str(out), "--quiet"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        # An older article (the corpus's dates are spread over three years).
        target = portal_site / "content" / corpus[len(corpus) // 2]["file"]
        hugo_site = None
        if not args.no_hugo and shutil.which("hugo"):
            hugo_site = write_hugo(root, corpus)
        elif not args.no_hugo:
            print("hugo not on PATH: skipping it (apt-get install hugo)")
        python = None if args.no_pelican else find_pelican(args.pelican_python, root)
        pelican_site = write_pelican(root, corpus) if python else None

        # Side by side: each round times every tool, and ratios are taken within a round,
        # so a busy moment of the (shared) machine weighs on both sides of a ratio.
        runs: dict[str, list[float]] = {}
        ratios: dict[str, list[float]] = {}
        for k in range(args.rounds):
            times = portal_round(cmd, out, target, k, env)
            if hugo_site is not None:
                times["hugo cold"] = hugo_cold(hugo_site, root)
                h = times["hugo cold"]
                for name in ("portal cold", "portal no-change", "portal one edit"):
                    ratios.setdefault(f"{name} / hugo cold", []).append(times[name] / h)
            if python and pelican_site is not None:
                times["pelican cold"] = pelican_cold(python, pelican_site, root)
                ratio = times["pelican cold"] / times["portal cold"]
                ratios.setdefault("pelican cold / portal cold", []).append(ratio)
            for name, seconds in times.items():
                runs.setdefault(name, []).append(seconds)
        files = sum(1 for p in out.rglob("*") if p.is_file())
        print(f"portal wrote {files} files")
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
        print(f"{args.rounds} rounds; median (min to max)")
        print(f"{'':32} {'wall seconds':>24}   {'best CPU':>8}")
        for name, values in runs.items():
            print(f"{name:32} {spread(values):>24}   {CPU.get(name, 0.0):7.2f} s")
        print()
        for name, values in ratios.items():
            print(f"{name:32} {spread(values):>24}   (target {TARGETS[name]})")
        # On a busy machine wall times swing with the load; CPU times (all processes of a
        # run, best of the rounds) much less: their ratios are a second view, not the target.
        print()
        for name in ratios:
            top, bottom = name.split(" / ")
            if CPU.get(bottom):
                print(f"{name + ' (CPU)':32} {CPU[top] / CPU[bottom]:6.3f}")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
