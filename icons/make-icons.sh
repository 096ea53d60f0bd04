#!/usr/bin/env bash
# Renders every app icon from icon.svg (needs rsvg-convert from librsvg2-bin, and python3 for
# the Windows .ico, which simply wraps the PNGs). Run after editing icon.svg; commit the output.
set -euo pipefail
cd "$(dirname "$0")"
render() { rsvg-convert -w "$1" -h "$1" icon.svg -o "$2"; }
render 32 32x32.png
render 128 128x128.png
render 256 128x128@2x.png
render 512 icon.png
python3 - <<'PY'
import struct
# An .ico whose entries are PNG images (allowed since Windows Vista).
pngs = [open(p, "rb").read() for p in ("32x32.png", "128x128@2x.png")]
sizes = [32, 256]
header = struct.pack("<HHH", 0, 1, len(pngs))
offset = 6 + 16 * len(pngs)
entries = b""
for size, data in zip(sizes, pngs):
    entries += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
    offset += len(data)
open("icon.ico", "wb").write(header + entries + b"".join(pngs))
PY
echo "icons written: $(ls *.png icon.ico | tr '\n' ' ')"
