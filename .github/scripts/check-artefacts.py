#!/usr/bin/env python3
"""Refuses to publish a test build as a release (docs/RELEASE.md, "What a release refuses").

  check-artefacts.py FILE...

Each APK, AAB and IPA is opened and its own manifest read, not its name: the application id
(Android's `package`, iOS's CFBundleIdentifier) must be the customer app's, tauri.conf.json's
`identifier`, exactly (not jp.softtoken.app.qa or .debug), and the build must not be debuggable
(Android's `android:debuggable`; on iOS, a provisioning profile granting `get-task-allow`, which
only development signing has). A file named like a test build (-qa, -debug) is refused too.
Other files pass. Exit 1 naming every refused file.

No aapt or bundletool on the runner that publishes, so the two Android manifest formats are read
here: the APK's binary XML (AXML: string pool, resource map, element chunks) and the AAB's
protocol-buffer XML (aapt2's Resources.proto XmlNode). Called by publish.sh; tested on
fabricated files by test_check_artefacts.py.
"""

from __future__ import annotations

import json
import plistlib
import re
import struct
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# android:debuggable's resource id (android.R.attr.debuggable): compiled manifests may drop the
# attribute's name and keep only this.
DEBUGGABLE_ID = 0x0101000F


class Refused(Exception):
    """Why a file is not a customer build."""


def customer_id() -> str:
    return json.loads((ROOT / "tauri.conf.json").read_text())["identifier"]


# --- Android binary XML (APK) -------------------------------------------------------------------

def axml_strings(data: bytes, at: int) -> list[str]:
    _, header, _, count, _, flags, start, _ = struct.unpack_from("<HHIIIIII", data, at)
    utf8 = bool(flags & 0x100)
    offsets = struct.unpack_from(f"<{count}I", data, at + header)
    strings = []
    for off in offsets:
        p = at + start + off
        if utf8:
            def length(p: int) -> tuple[int, int]:
                n = data[p]
                return ((n & 0x7F) << 8 | data[p + 1], p + 2) if n & 0x80 else (n, p + 1)
            _, p = length(p)  # characters
            n, p = length(p)  # bytes
            strings.append(data[p:p + n].decode("utf-8", "replace"))
        else:
            n = struct.unpack_from("<H", data, p)[0]
            p += 2
            if n & 0x8000:
                n = (n & 0x7FFF) << 16 | struct.unpack_from("<H", data, p)[0]
                p += 2
            strings.append(data[p:p + 2 * n].decode("utf-16-le", "replace"))
    return strings


def axml_elements(data: bytes) -> list[tuple[str, dict[str, object]]]:
    """(element name, {attribute name or resource id: value}) in document order."""
    kind, header, size = struct.unpack_from("<HHI", data, 0)
    if kind != 0x0003:
        raise Refused("its AndroidManifest.xml is not Android binary XML")
    strings: list[str] = []
    ids: list[int] = []
    elements = []
    at = header
    while at + 8 <= min(size, len(data)):
        kind, header, chunk = struct.unpack_from("<HHI", data, at)
        if chunk < 8:
            raise Refused("its AndroidManifest.xml has a broken chunk")
        if kind == 0x0001:
            strings = axml_strings(data, at)
        elif kind == 0x0180:
            ids = list(struct.unpack_from(f"<{(chunk - header) // 4}I", data, at + header))
        elif kind == 0x0102:
            _, name, attr_start, attr_size, attr_count = struct.unpack_from("<IIHHH", data, at + header)
            attrs: dict[str, object] = {}
            for i in range(attr_count):
                a = at + header + attr_start + i * attr_size
                _, aname, raw, _, _, dtype, value = struct.unpack_from("<IIIHBBI", data, a)
                text = strings[raw] if raw != 0xFFFFFFFF and raw < len(strings) else None
                typed: object = bool(value) if dtype == 0x12 else (strings[value] if dtype == 0x03 else value)
                val = text if text is not None else typed
                if aname < len(strings) and strings[aname]:
                    attrs[strings[aname]] = val
                if aname < len(ids):
                    attrs[f"@{ids[aname]:#010x}"] = val
            elements.append((strings[name] if name < len(strings) else "", attrs))
        at += chunk
    return elements


# --- Android protocol-buffer XML (AAB) ----------------------------------------------------------

def proto_fields(data: bytes) -> list[tuple[int, object]]:
    fields, p = [], 0

    def varint(p: int) -> tuple[int, int]:
        shift = result = 0
        while True:
            if p >= len(data):
                raise Refused("its manifest is not a protocol buffer")
            b = data[p]
            result |= (b & 0x7F) << shift
            p += 1
            if not b & 0x80:
                return result, p
            shift += 7

    while p < len(data):
        key, p = varint(p)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, p = varint(p)
        elif wire == 2:
            n, p = varint(p)
            value, p = data[p:p + n], p + n
        elif wire == 5:
            value, p = data[p:p + 4], p + 4
        elif wire == 1:
            value, p = data[p:p + 8], p + 8
        else:
            raise Refused("its manifest is not a protocol buffer")
        fields.append((number, value))
    return fields


def proto_elements(node: bytes) -> list[tuple[str, dict[str, object]]]:
    """XmlNode{1: element}; XmlElement{3: name, 4: attribute, 5: child XmlNode};
    XmlAttribute{2: name, 3: value, 5: resource_id, 6: compiled_item Item{7: prim{8: bool}}}."""
    elements = []
    for number, element in proto_fields(node):
        if number != 1 or not isinstance(element, bytes):
            continue
        name, attrs, children = "", {}, []
        for field_no, value in proto_fields(element):
            if field_no == 3 and isinstance(value, bytes):
                name = value.decode("utf-8", "replace")
            elif field_no == 5 and isinstance(value, bytes):
                children.append(value)
            elif field_no == 4 and isinstance(value, bytes):
                aname, aval, rid = "", None, None
                for f, v in proto_fields(value):
                    if f == 2 and isinstance(v, bytes):
                        aname = v.decode("utf-8", "replace")
                    elif f == 3 and isinstance(v, bytes) and v:
                        aval = v.decode("utf-8", "replace")
                    elif f == 5 and isinstance(v, int):
                        rid = v
                    elif f == 6 and isinstance(v, bytes) and aval is None:
                        for item_f, item in proto_fields(v):
                            if item_f == 7 and isinstance(item, bytes):
                                aval = next((bool(b) for pf, b in proto_fields(item) if pf == 8), aval)
                if aname:
                    attrs[aname] = aval
                if rid is not None:
                    attrs[f"@{rid:#010x}"] = aval
        elements.append((name, attrs))
        for child in children:
            elements += proto_elements(child)
    return elements


def android_verdict(elements: list[tuple[str, dict[str, object]]], want: str) -> None:
    manifest = next((attrs for name, attrs in elements if name == "manifest"), None)
    if manifest is None:
        raise Refused("its manifest has no <manifest> element")
    package = manifest.get("package")
    if package != want:
        raise Refused(f"its application id is {package!r}, not the customer app's {want!r}")
    for name, attrs in elements:
        if name == "application":
            debuggable = attrs.get(f"@{DEBUGGABLE_ID:#010x}", attrs.get("debuggable"))
            if debuggable in (True, "true") or (isinstance(debuggable, int) and debuggable not in (0, False)):
                raise Refused("it is debuggable (android:debuggable)")


# --- iOS ----------------------------------------------------------------------------------------

def ios_verdict(ipa: zipfile.ZipFile, want: str) -> None:
    names = ipa.namelist()
    info = next((n for n in names if re.fullmatch(r"Payload/[^/]+\.app/Info\.plist", n)), None)
    if info is None:
        raise Refused("it holds no Payload/<app>.app/Info.plist")
    bundle_id = plistlib.loads(ipa.read(info)).get("CFBundleIdentifier")
    if bundle_id != want:
        raise Refused(f"its bundle id is {bundle_id!r}, not the customer app's {want!r}")
    profile = info.rsplit("/", 1)[0] + "/embedded.mobileprovision"
    if profile in names:
        # A CMS envelope around an XML plist: the plist is readable as it is.
        raw = ipa.read(profile)
        start, end = raw.find(b"<?xml"), raw.rfind(b"</plist>")
        if start < 0 or end < 0:
            raise Refused("its provisioning profile holds no readable plist")
        entitlements = plistlib.loads(raw[start:end + len(b"</plist>")]).get("Entitlements", {})
        if entitlements.get("get-task-allow"):
            raise Refused("it is signed for development (get-task-allow: a debugger may attach)")


def verdict(path: Path, want: str) -> None:
    """Returns for a customer build; raises Refused saying why not."""
    if re.search(r"-(qa|debug)\b", path.name, re.I):
        raise Refused("its name says it is a test build")
    suffix = path.suffix.lower()
    if suffix not in (".apk", ".aab", ".ipa"):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            if suffix == ".apk":
                android_verdict(axml_elements(archive.read("AndroidManifest.xml")), want)
            elif suffix == ".aab":
                android_verdict(proto_elements(archive.read("base/manifest/AndroidManifest.xml")), want)
            else:
                ios_verdict(archive, want)
    except (zipfile.BadZipFile, KeyError, struct.error, IndexError, ValueError, plistlib.InvalidFileException) as e:
        raise Refused(f"it cannot be read as an {suffix[1:].upper()} ({e})") from e


def main(argv: list[str]) -> int:
    want = customer_id()
    refused = 0
    for name in argv:
        try:
            verdict(Path(name), want)
        except Refused as why:
            print(f"check-artefacts: refused {name}: {why}", file=sys.stderr)
            refused += 1
    if refused:
        print(f"check-artefacts: {refused} file(s) are not customer builds; nothing is published", file=sys.stderr)
        return 1
    print(f"check-artefacts: {len(argv)} file(s), every phone build is {want} and not debuggable")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
