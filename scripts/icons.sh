#!/usr/bin/env bash
# Every app icon of every platform, drawn from the one source icons/icon.svg.
#
#   scripts/icons.sh          render all icons (installs what it needs), then check them
#   scripts/icons.sh check    only check; needs nothing but python3, so tests can run it
#
# Renders, from icon.svg:
#   icons/                     what tauri.conf.json's bundle.icon lists: 32x32, 128x128,
#                              128x128@2x, icon.png (512), icon.ico (Windows), icon.icns (macOS)
#   src-tauri/gen/android/...  legacy mipmaps (ic_launcher, ic_launcher_round) for Android 7,
#                              the adaptive icon's foreground layer and background colour for 8+
#   src-tauri/gen/apple/...    the iOS AppIcon set with its Contents.json (opaque, full bleed:
#                              iOS rounds the corners itself and rejects an icon with alpha),
#                              and the plate's colour as the "Plate" colour set
# The rect with id="background" in icon.svg is the plate; the platforms that draw their own
# plate (adaptive icon, iOS) get its colour and the rest of the drawing as the foreground.
#
# The check reads every icon that tauri.conf.json, the Android manifest and resources, and the
# iOS Contents.json name, and fails unless each exists with the right pixel size; it also fails
# when tauri.conf.json writes a version of its own (Cargo.toml holds the one), when the native
# projects disagree with it (minimum OS versions) or one of their XML, plist or JSON files does
# not parse.
#
# Deterministic: the same icon.svg, librsvg and fonts give byte-identical files (no timestamps;
# .ico and .icns are assembled here, not by tools that stamp the date).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
mode="${1:-render}"

say() { printf '==> icons: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# rsvg-convert draws the SVG; the digits are DejaVu Sans Mono, so the font must be there too,
# or fontconfig substitutes another and the icons change.
ensure_render_tools() {
  local packages=(librsvg2-bin fonts-dejavu-core python3) missing=() pkg
  for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

case "$mode" in
  render) ensure_render_tools ;;
  check) ;;
  *) echo "usage: scripts/icons.sh [render|check]" >&2; exit 2 ;;
esac

exec python3 - "$root" "$mode" <<'PY'
import json, os, re, struct, subprocess, sys, tempfile
import xml.etree.ElementTree as ET

root, mode = sys.argv[1], sys.argv[2]
SVG_NS = "http://www.w3.org/2000/svg"
ANDROID_NS = "http://schemas.android.com/apk/res/android"
SOURCE = os.path.join(root, "icons", "icon.svg")
CONF = os.path.join(root, "tauri.conf.json")
RES = os.path.join(root, "src-tauri", "gen", "android", "app", "src", "main", "res")
MANIFEST = os.path.join(os.path.dirname(RES), "AndroidManifest.xml")
APPLE = os.path.join(root, "src-tauri", "gen", "apple")
APPICON = os.path.join(APPLE, "Assets.xcassets", "AppIcon.appiconset")

# Android densities: scale of the 48dp launcher icon and of the 108dp adaptive layer.
DENSITIES = {"mdpi": 1, "hdpi": 1.5, "xhdpi": 2, "xxhdpi": 3, "xxxhdpi": 4}
# Windows .ico entries, and macOS .icns entries (type code, pixel size).
ICO_SIZES = [16, 24, 32, 48, 64, 256]
ICNS_TYPES = [(b"icp4", 16), (b"icp5", 32), (b"ic11", 32), (b"icp6", 64), (b"ic12", 64),
              (b"ic07", 128), (b"ic08", 256), (b"ic13", 256), (b"ic09", 512),
              (b"ic14", 512), (b"ic10", 1024)]
ICNS_SIZE = dict(ICNS_TYPES)
# iOS AppIcon set: (idiom, point size, scale). iPhone and iPad both, and the App Store's.
IOS_ICONS = [("iphone", "20", 2), ("iphone", "20", 3), ("iphone", "29", 2), ("iphone", "29", 3),
             ("iphone", "40", 2), ("iphone", "40", 3), ("iphone", "60", 2), ("iphone", "60", 3),
             ("ipad", "20", 1), ("ipad", "20", 2), ("ipad", "29", 1), ("ipad", "29", 2),
             ("ipad", "40", 1), ("ipad", "40", 2), ("ipad", "76", 1), ("ipad", "76", 2),
             ("ipad", "83.5", 2), ("ios-marketing", "1024", 1)]


def png_info(data):
    """(width, height, colour type) of a PNG, or None when data is not one."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def opaque(data):
    """The PNG itself, once sure it has no alpha channel: cairo (under rsvg-convert) writes an
    RGB PNG when every pixel is opaque, which the full-bleed plate guarantees."""
    if png_info(data)[2] != 2:
        raise SystemExit("an iOS icon came out with alpha; the plate must cover every pixel")
    return data


def ios_name(idiom, size, scale):
    return f"AppIcon-{idiom}-{size}@{scale}x.png"


def ios_pixels(size, scale):
    return round(float(size) * scale)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode_ = "w" if isinstance(data, str) else "wb"
    with open(path, mode_) as f:
        f.write(data)


def render_all():
    ET.register_namespace("", SVG_NS)
    source = ET.parse(SOURCE).getroot()
    plate = source.find(f"{{{SVG_NS}}}*[@id='background']")
    if plate is None:
        raise SystemExit("icons/icon.svg has no element with id=\"background\"")
    colour = plate.get("fill")
    drawing = "".join(ET.tostring(el, encoding="unicode") for el in source if el is not plate)

    def svg(view, body):
        return f'<svg xmlns="{SVG_NS}" viewBox="{view}">{body}</svg>'

    variants = {
        "full": ET.tostring(source, encoding="unicode"),
        # Adaptive icon foreground: 108dp canvas, the 512 drawing in the middle 72dp, which
        # keeps the shield inside the 66dp circle that every launcher mask leaves visible.
        "foreground": svg("0 0 108 108",
                          f'<g transform="translate(18 18) scale({72 / 512})">{drawing}</g>'),
        "round": svg("0 0 512 512", f'<circle cx="256" cy="256" r="256" fill="{colour}"/>{drawing}'),
        "full-bleed": svg("0 0 512 512", f'<rect width="512" height="512" fill="{colour}"/>{drawing}'),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in variants.items():
            write(os.path.join(tmp, name + ".svg"), text)

        def render(variant, px):
            out = os.path.join(tmp, f"{variant}-{px}.png")
            if not os.path.exists(out):
                subprocess.run(["rsvg-convert", "-w", str(px), "-h", str(px),
                                os.path.join(tmp, variant + ".svg"), "-o", out], check=True)
            with open(out, "rb") as f:
                return f.read()

        icons = os.path.join(root, "icons")
        for name, px in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256),
                         ("icon.png", 512)]:
            write(os.path.join(icons, name), render("full", px))

        # An .ico whose entries are PNG images (allowed since Windows Vista).
        pngs = [render("full", px) for px in ICO_SIZES]
        offset, entries = 6 + 16 * len(pngs), b""
        for px, data in zip(ICO_SIZES, pngs):
            entries += struct.pack("<BBBBHHII", px % 256, px % 256, 0, 0, 1, 32, len(data), offset)
            offset += len(data)
        write(os.path.join(icons, "icon.ico"),
              struct.pack("<HHH", 0, 1, len(pngs)) + entries + b"".join(pngs))

        # An .icns of PNG entries: type, length (header included), data; all big-endian.
        body = b"".join(kind + struct.pack(">I", 8 + len(render("full", px))) + render("full", px)
                        for kind, px in ICNS_TYPES)
        write(os.path.join(icons, "icon.icns"), b"icns" + struct.pack(">I", 8 + len(body)) + body)

        for density, scale in DENSITIES.items():
            folder = os.path.join(RES, f"mipmap-{density}")
            write(os.path.join(folder, "ic_launcher.png"), render("full", round(48 * scale)))
            write(os.path.join(folder, "ic_launcher_round.png"), render("round", round(48 * scale)))
            write(os.path.join(folder, "ic_launcher_foreground.png"),
                  render("foreground", round(108 * scale)))
        adaptive = ('<?xml version="1.0" encoding="utf-8"?>\n'
                    '<!-- Written by scripts/icons.sh from icons/icon.svg. -->\n'
                    f'<adaptive-icon xmlns:android="{ANDROID_NS}">\n'
                    '    <background android:drawable="@color/ic_launcher_background" />\n'
                    '    <foreground android:drawable="@mipmap/ic_launcher_foreground" />\n'
                    '</adaptive-icon>\n')
        for name in ("ic_launcher.xml", "ic_launcher_round.xml"):
            write(os.path.join(RES, "mipmap-anydpi-v26", name), adaptive)
        write(os.path.join(RES, "values", "ic_launcher_background.xml"),
              '<?xml version="1.0" encoding="utf-8"?>\n'
              '<!-- Written by scripts/icons.sh: the fill of the background plate in icons/icon.svg. -->\n'
              f'<resources>\n    <color name="ic_launcher_background">{colour}</color>\n</resources>\n')

        for entry in os.listdir(APPICON) if os.path.isdir(APPICON) else []:
            if entry.endswith(".png"):
                os.remove(os.path.join(APPICON, entry))
        images = []
        for idiom, size, scale in IOS_ICONS:
            name = ios_name(idiom, size, scale)
            write(os.path.join(APPICON, name), opaque(render("full-bleed", ios_pixels(size, scale))))
            images.append({"filename": name, "idiom": idiom, "scale": f"{scale}x",
                           "size": f"{size}x{size}"})
        catalog_info = {"info": {"author": "xcode", "version": 1}}
        write(os.path.join(APPICON, "Contents.json"),
              json.dumps({"images": images, **catalog_info}, indent=2) + "\n")
        write(os.path.join(os.path.dirname(APPICON), "Contents.json"),
              json.dumps(catalog_info, indent=2) + "\n")
        # "Plate": the launch screen and the privacy cover (PrivacyShield.swift) in the same
        # colour as the icon's plate and Android's window background.
        rgb = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", colour)
        if rgb is None:
            raise SystemExit(f"the background plate's fill {colour!r} is not #rrggbb")
        components = dict(zip(("red", "green", "blue"), (f"0x{c.upper()}" for c in rgb.groups())))
        plate_colour = {"colors": [{"color": {"color-space": "srgb",
                                              "components": {"alpha": "1.000", **components}},
                                    "idiom": "universal"}], **catalog_info}
        write(os.path.join(os.path.dirname(APPICON), "Plate.colorset", "Contents.json"),
              json.dumps(plate_colour, indent=2) + "\n")


def check_all():
    problems = []

    def expect_png(path, px, opaque=False):
        rel = os.path.relpath(path, root)
        if not os.path.isfile(path):
            problems.append(f"{rel}: missing")
            return
        with open(path, "rb") as f:
            info = png_info(f.read(32))
        if info is None:
            problems.append(f"{rel}: not a PNG")
        elif info[:2] != (px, px):
            problems.append(f"{rel}: {info[0]}x{info[1]}, expected {px}x{px}")
        elif opaque and info[2] not in (0, 2):
            problems.append(f"{rel}: has an alpha channel, which the App Store refuses")

    def expect_entries(path, entries, wanted):
        """entries: (declared pixel size, PNG bytes) read from an .ico or .icns."""
        rel = os.path.relpath(path, root)
        for declared, data in entries:
            info = png_info(data)
            if info is None or info[:2] != (declared, declared):
                problems.append(f"{rel}: a {declared}px entry holds {info and info[:2]}")
        if sorted(d for d, _ in entries) != sorted(wanted):
            problems.append(f"{rel}: sizes {sorted(d for d, _ in entries)}, expected {sorted(wanted)}")

    with open(CONF) as f:
        conf = json.load(f)
    for icon in conf["bundle"]["icon"]:
        path = os.path.join(root, icon)
        name = os.path.basename(icon)
        sized = re.fullmatch(r"(\d+)x\1(?:@(\d)x)?\.png", name)
        if sized:
            expect_png(path, int(sized.group(1)) * int(sized.group(2) or 1))
        elif name == "icon.png":
            expect_png(path, 512)
        elif not os.path.isfile(path):
            problems.append(f"{icon}: missing")
        elif name.endswith(".ico"):
            with open(path, "rb") as f:
                data = f.read()
            (count,) = struct.unpack("<H", data[4:6])
            entries = []
            for i in range(count):
                w, _h, _c, _r, _p, _b, size, at = struct.unpack("<BBBBHHII", data[6 + 16 * i:22 + 16 * i])
                entries.append((w or 256, data[at:at + size]))
            expect_entries(path, entries, ICO_SIZES)
        elif name.endswith(".icns"):
            with open(path, "rb") as f:
                data = f.read()
            entries, pos = [], 8
            while pos < len(data):
                kind, (length,) = data[pos:pos + 4], struct.unpack(">I", data[pos + 4:pos + 8])
                entries.append((ICNS_SIZE.get(kind, 0), data[pos + 8:pos + length]))
                pos += length
            expect_entries(path, entries, [px for _, px in ICNS_TYPES])
        else:
            problems.append(f"{icon}: no rule for this kind of icon")

    # Android: every launcher resource the manifest and the adaptive icons name, in every density.
    wanted = {"ic_launcher": 48, "ic_launcher_round": 48, "ic_launcher_foreground": 108}
    refs = set()
    for xml in [MANIFEST] + [os.path.join(RES, "mipmap-anydpi-v26", n) for n in
                             ("ic_launcher.xml", "ic_launcher_round.xml")]:
        if not os.path.isfile(xml):
            problems.append(f"{os.path.relpath(xml, root)}: missing")
            continue
        for el in ET.parse(xml).iter():
            refs.update(v for v in el.attrib.values() if v.startswith(("@mipmap/", "@color/")))
    for ref in sorted(refs):
        kind, name = ref[1:].split("/")
        if kind == "color":
            values = os.path.join(RES, "values")
            found = any(c.get("name") == name
                        for f in os.listdir(values) if f.endswith(".xml")
                        for c in ET.parse(os.path.join(values, f)).getroot().iter("color"))
            if not found:
                problems.append(f"{ref}: no such colour in res/values")
        elif name not in wanted:
            problems.append(f"{ref}: no rule for its size")
        else:
            for density, scale in DENSITIES.items():
                expect_png(os.path.join(RES, f"mipmap-{density}", name + ".png"),
                           round(wanted[name] * scale))
    if not refs:
        problems.append("AndroidManifest.xml names no launcher icon")

    # iOS: every image Contents.json lists, at size x scale pixels, without alpha.
    with open(os.path.join(APPICON, "Contents.json")) as f:
        images = json.load(f)["images"]
    for image in images:
        size = image["size"].split("x")[0]
        expect_png(os.path.join(APPICON, image["filename"]),
                   ios_pixels(size, int(image["scale"].rstrip("x"))), opaque=True)
    if {(i["idiom"], i["size"].split("x")[0], int(i["scale"][0])) for i in images} != set(IOS_ICONS):
        problems.append("AppIcon.appiconset/Contents.json does not list every iPhone/iPad size")

    # One place for the version: Cargo.toml's [workspace.package]. tauri.conf.json has none (the
    # app's build and the staged copy for the CLI take the crate's), nor do the native projects
    # (the CLI writes it into the Gradle and Xcode builds).
    if "version" in conf:
        problems.append("tauri.conf.json sets a version: the one place for it is Cargo.toml")
    ios_min = conf["bundle"].get("iOS", {}).get("minimumSystemVersion")
    with open(os.path.join(APPLE, "project.yml")) as f:
        target = re.search(r"^\s+iOS:\s*\"?([\d.]+)\"?\s*$", f.read(), re.M)
    if not target or target.group(1) != ios_min:
        problems.append(f"gen/apple/project.yml deployment target differs from bundle.iOS ({ios_min})")

    # Nothing here can build the native projects, but every file they are made of must parse.
    parsed = 0
    for folder, _dirs, files in os.walk(os.path.join(root, "src-tauri", "gen")):
        for name in files:
            path = os.path.join(folder, name)
            try:
                if name.endswith((".xml", ".plist", ".entitlements")):
                    ET.parse(path)
                elif name.endswith(".json"):
                    with open(path) as f:
                        json.load(f)
                else:
                    continue
                parsed += 1
            except (ET.ParseError, ValueError) as e:
                problems.append(f"{os.path.relpath(path, root)}: does not parse: {e}")

    for problem in problems:
        print(f"icons check: {problem}", file=sys.stderr)
    counted = (len(conf["bundle"]["icon"]) + len(images)
               + len(DENSITIES) * len([r for r in refs if r.startswith("@mipmap/")]))
    if problems:
        raise SystemExit(f"icons check: {len(problems)} problem(s)")
    print(f"icons check: {counted} icon references, each present at its size; versions agree; "
          f"{parsed} XML, plist and JSON files of the native projects parse")


if mode == "render":
    render_all()
check_all()
PY
