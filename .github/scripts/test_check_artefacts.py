"""Tests of check-artefacts.py on fabricated APKs, AABs and IPAs (run by scripts/check-workflows.sh).

The files are written here in the formats the build tools write (Android binary XML, aapt2's
protocol-buffer XML, an iOS bundle's plists), so the check is proven on inputs whose ids and
flags are known, without the Android SDK or Xcode.
"""

from __future__ import annotations

import importlib.util
import io
import plistlib
import struct
import tempfile
import unittest
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("check_artefacts", HERE / "check-artefacts.py")
assert _spec and _spec.loader
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)

CUSTOMER = "jp.softtoken.app"
NO_INDEX = 0xFFFFFFFF


def axml(package: str, debuggable: bool | None = None, keep_attribute_names: bool = True) -> bytes:
    """An AndroidManifest.xml as aapt2 compiles it: <manifest package><application debuggable/>."""
    strings = ["debuggable" if keep_attribute_names else "", "package", package, "manifest", "application",
               "http://schemas.android.com/apk/res/android"]
    body = b""
    offsets = []
    for s in strings:
        offsets.append(len(body))
        raw = s.encode()
        body += bytes([len(s), len(raw)]) + raw + b"\0"
    body += b"\0" * (-len(body) % 4)
    header = 28 + 4 * len(strings)
    pool = struct.pack("<HHIIIIII", 0x0001, 28, header + len(body), len(strings), 0, 0x100, header, 0)
    pool += struct.pack(f"<{len(strings)}I", *offsets) + body
    resmap = struct.pack("<HHII", 0x0180, 8, 12, check.DEBUGGABLE_ID)

    def start(name: int, attrs: list[tuple[int, int, int, int, int]]) -> bytes:
        ext = struct.pack("<IIHHHHHH", NO_INDEX, name, 20, 20, len(attrs), 0, 0, 0)
        packed = b"".join(struct.pack("<IIIHBBI", ns, an, raw, 8, 0, dtype, data) for ns, an, raw, dtype, data in attrs)
        return struct.pack("<HHIII", 0x0102, 16, 16 + len(ext) + len(packed), 1, NO_INDEX) + ext + packed

    def end(name: int) -> bytes:
        return struct.pack("<HHIIIII", 0x0103, 16, 24, 1, NO_INDEX, NO_INDEX, name)

    app_attrs = [] if debuggable is None else [(5, 0, NO_INDEX, 0x12, NO_INDEX if debuggable else 0)]
    chunks = (pool + resmap + start(3, [(NO_INDEX, 1, 2, 0x03, 2)]) + start(4, app_attrs) + end(4) + end(3))
    return struct.pack("<HHI", 0x0003, 8, 8 + len(chunks)) + chunks


def varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def proto_manifest(package: str, debuggable: bool | None = None) -> bytes:
    """aapt2's proto XML (as in an AAB): XmlNode{element{name, attribute, child}}."""
    attrs = b""
    if debuggable is not None:
        prim = varint(8 << 3) + varint(int(debuggable))
        attrs = field(4, field(2, b"debuggable") + varint(5 << 3) + varint(check.DEBUGGABLE_ID)
                      + field(6, field(7, prim)))
    application = field(1, field(3, b"application") + attrs)
    manifest = field(3, b"manifest") + field(4, field(2, b"package") + field(3, package.encode())) + field(5, application)
    return field(1, manifest)


def profile(get_task_allow: bool) -> bytes:
    plist = plistlib.dumps({"Entitlements": {"get-task-allow": get_task_allow}})
    return b"\x30\x80fake-cms-envelope" + plist + b"\x00signature"


class ArtefactCheck(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def archive(self, name: str, files: dict[str, bytes]) -> Path:
        path = self.dir / name
        with zipfile.ZipFile(path, "w") as z:
            for inner, data in files.items():
                z.writestr(inner, data)
        return path

    def refusal(self, path: Path) -> str | None:
        try:
            check.verdict(path, CUSTOMER)
        except check.Refused as why:
            return str(why)
        return None

    def test_release_manager_publishes_the_customer_apk(self) -> None:
        apk = self.archive("softtoken-0.1.0-android-arm64.apk", {"AndroidManifest.xml": axml(CUSTOMER, False)})
        self.assertIsNone(self.refusal(apk))

    def test_qa_apk_renamed_as_a_release_is_refused_by_its_application_id(self) -> None:
        apk = self.archive("softtoken-0.1.0-android-x86_64.apk", {"AndroidManifest.xml": axml(CUSTOMER + ".qa")})
        self.assertIn("application id is 'jp.softtoken.app.qa'", self.refusal(apk) or "")

    def test_debug_apk_is_refused_by_its_application_id(self) -> None:
        apk = self.archive("softtoken.apk", {"AndroidManifest.xml": axml(CUSTOMER + ".debug", True)})
        self.assertIn("'jp.softtoken.app.debug'", self.refusal(apk) or "")

    def test_debuggable_apk_with_the_customer_id_is_refused_even_without_attribute_names(self) -> None:
        apk = self.archive("softtoken.apk", {"AndroidManifest.xml": axml(CUSTOMER, True, keep_attribute_names=False)})
        self.assertIn("debuggable", self.refusal(apk) or "")

    def test_customer_aab_passes_and_qa_or_debuggable_aabs_are_refused(self) -> None:
        good = self.archive("softtoken-0.1.0-android.aab", {"base/manifest/AndroidManifest.xml": proto_manifest(CUSTOMER, False)})
        self.assertIsNone(self.refusal(good))
        qa = self.archive("a.aab", {"base/manifest/AndroidManifest.xml": proto_manifest(CUSTOMER + ".qa")})
        self.assertIn("'jp.softtoken.app.qa'", self.refusal(qa) or "")
        debuggable = self.archive("b.aab", {"base/manifest/AndroidManifest.xml": proto_manifest(CUSTOMER, True)})
        self.assertIn("debuggable", self.refusal(debuggable) or "")

    def test_ipa_for_the_app_store_passes_and_a_development_signed_one_is_refused(self) -> None:
        info = plistlib.dumps({"CFBundleIdentifier": CUSTOMER})
        good = self.archive("softtoken-0.1.0-ios.ipa", {"Payload/softtoken.app/Info.plist": info,
                                                         "Payload/softtoken.app/embedded.mobileprovision": profile(False)})
        self.assertIsNone(self.refusal(good))
        dev = self.archive("dev.ipa", {"Payload/softtoken.app/Info.plist": info,
                                       "Payload/softtoken.app/embedded.mobileprovision": profile(True)})
        self.assertIn("get-task-allow", self.refusal(dev) or "")
        other = self.archive("other.ipa", {"Payload/softtoken.app/Info.plist": plistlib.dumps({"CFBundleIdentifier": CUSTOMER + ".qa"}, fmt=plistlib.FMT_BINARY)})
        self.assertIn("bundle id is 'jp.softtoken.app.qa'", self.refusal(other) or "")

    def test_file_named_as_a_test_build_is_refused_whatever_it_holds(self) -> None:
        apk = self.archive("softtoken-0.1.0-android-x86_64-qa.apk", {"AndroidManifest.xml": axml(CUSTOMER)})
        self.assertIn("name says it is a test build", self.refusal(apk) or "")

    def test_unreadable_apk_is_refused_not_waved_through(self) -> None:
        apk = self.dir / "softtoken.apk"
        apk.write_bytes(b"not a zip")
        self.assertIn("cannot be read as an APK", self.refusal(apk) or "")
        no_manifest = self.archive("empty.apk", {"classes.dex": b""})
        self.assertIn("cannot be read", self.refusal(no_manifest) or "")

    def test_publish_stops_when_any_file_is_refused_and_names_it(self) -> None:
        good = self.archive("softtoken-0.1.0-android-arm64.apk", {"AndroidManifest.xml": axml(CUSTOMER)})
        bad = self.archive("softtoken-0.1.0-android-x86.apk", {"AndroidManifest.xml": axml(CUSTOMER + ".qa")})
        deb = self.dir / "softtoken-0.1.0-linux-amd64.deb"
        deb.write_bytes(b"!<arch>\n")
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            self.assertEqual(check.main([str(good), str(deb)]), 0)
            self.assertEqual(check.main([str(good), str(bad), str(deb)]), 1)
        self.assertIn(f"refused {bad}", err.getvalue())
        self.assertNotIn(f"refused {good}", err.getvalue())


if __name__ == "__main__":
    unittest.main()
