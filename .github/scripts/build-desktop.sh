#!/usr/bin/env bash
# Builds the desktop packages with the Tauri CLI and leaves them in dist/ (docs/RELEASE.md).
#
#   build-desktop.sh linux     .deb, .rpm, .AppImage (x86_64)
#   build-desktop.sh windows   .msi (x64)
#   build-desktop.sh macos     .dmg (universal: Apple silicon and Intel)
#
# Needs Node.js (scripts/tauri.sh installs the Tauri CLI) and, on Linux, the WebKitGTK build
# packages. Names come from tauri.conf.json, the version from Cargo.toml; the server URL from
# SOFTTOKEN_SERVER_URL (the bank's, for a release).
#
# Signing, when its secrets are set (otherwise the file is named "-unsigned"):
#   windows  WINDOWS_CERTIFICATE_BASE64 (.pfx), WINDOWS_CERTIFICATE_PASSWORD, and
#            WINDOWS_TIMESTAMP_URL: the certificate is imported into the runner's user store and
#            the bundler signs softtoken.exe and the .msi with it (signtool).
#   macos    APPLE_CERTIFICATE (.p12, base64), APPLE_CERTIFICATE_PASSWORD,
#            APPLE_SIGNING_IDENTITY, and for notarisation APPLE_API_ISSUER, APPLE_API_KEY and
#            APPLE_API_KEY_P8_BASE64: the bundler signs with hardened runtime, notarises and
#            staples the .app; the .dmg is then notarised and stapled here.
#   linux    packages are not signed one by one; SHA256SUMS is (docs/RELEASE.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

platform=${1:?usage: build-desktop.sh linux|windows|macos}
# Windows runners call it python, the others python3.
python=$(command -v python3 || command -v python)
version=$("$python" .github/scripts/stage-tauri-config.py --version)
out=dist
mkdir -p "$out"
# The customer build's profile (Cargo.toml [profile.app-dist]: size over speed, panic = abort).
profile=(-- --profile app-dist)
bundle_root=target/app-dist/bundle

say() { printf '==> build-desktop: %s\n' "$*"; }


# The bundler treats a set-but-empty signing variable as "sign", so unset the empty ones.
for var in APPLE_CERTIFICATE APPLE_CERTIFICATE_PASSWORD APPLE_SIGNING_IDENTITY \
  APPLE_API_ISSUER APPLE_API_KEY APPLE_API_KEY_P8_BASE64 \
  WINDOWS_CERTIFICATE_BASE64 WINDOWS_CERTIFICATE_PASSWORD WINDOWS_TIMESTAMP_URL; do
  if [ -z "${!var:-}" ]; then unset "$var"; fi
done

sign_args=(--no-sign)
suffix=-unsigned
case "$platform" in
  linux)
    # linuxdeploy, which makes the AppImage, is itself an AppImage; the runner has no FUSE.
    export APPIMAGE_EXTRACT_AND_RUN=1
    bash scripts/tauri.sh build --ci --bundles deb,rpm,appimage ${sign_args[@]+"${sign_args[@]}"} "${profile[@]}"
    cp "$bundle_root"/deb/*.deb "$out/softtoken-$version-linux-amd64.deb"
    cp "$bundle_root"/rpm/*.rpm "$out/softtoken-$version-linux-x86_64.rpm"
    cp "$bundle_root"/appimage/*.AppImage "$out/softtoken-$version-linux-x86_64.AppImage"
    ;;
  windows)
    if [ -n "${WINDOWS_CERTIFICATE_BASE64:-}" ] && [ -n "${WINDOWS_CERTIFICATE_PASSWORD:-}" ] &&
      [ -n "${WINDOWS_TIMESTAMP_URL:-}" ]; then
      say "importing the code-signing certificate into the runner's user store"
      pfx=$(mktemp -d)/signing.pfx
      printf '%s' "$WINDOWS_CERTIFICATE_BASE64" | base64 --decode > "$pfx"
      # shellcheck disable=SC2016 # PowerShell expands $env:…, not bash.
      thumbprint=$(PFX="$(cygpath -w "$pfx")" powershell -NoProfile -Command \
        '$p = ConvertTo-SecureString -String $env:WINDOWS_CERTIFICATE_PASSWORD -Force -AsPlainText;
         (Import-PfxCertificate -FilePath $env:PFX -CertStoreLocation Cert:\CurrentUser\My -Password $p).Thumbprint' |
        tr -d '\r')
      rm -f "$pfx"
      patch=$(THUMBPRINT="$thumbprint" "$python" -c 'import json, os; print(json.dumps({"bundle": {"windows": {
        "certificateThumbprint": os.environ["THUMBPRINT"], "digestAlgorithm": "sha256",
        "timestampUrl": os.environ["WINDOWS_TIMESTAMP_URL"]}}}))')
      sign_args=(--config "$patch")
      suffix=
    else
      say "no Windows signing secrets: the .msi stays unsigned"
    fi
    bash scripts/tauri.sh build --ci --bundles msi ${sign_args[@]+"${sign_args[@]}"} "${profile[@]}"
    # One installer per language of bundle.windows.wix.language: softtoken_<v>_x64_<lang>.msi.
    built=0
    for msi in "$bundle_root"/msi/*.msi; do
      [ -e "$msi" ] || continue
      lang=${msi%.msi}
      lang=${lang##*_}
      cp "$msi" "$out/softtoken-$version-windows-x64-$lang$suffix.msi"
      built=$((built + 1))
    done
    if [ "$built" -eq 0 ]; then
      echo "the bundler left no .msi under $bundle_root/msi" >&2
      exit 1
    fi
    ;;
  macos)
    bundle_root=target/universal-apple-darwin/app-dist/bundle
    if [ -n "${APPLE_CERTIFICATE:-}" ] && [ -n "${APPLE_CERTIFICATE_PASSWORD:-}" ] &&
      [ -n "${APPLE_SIGNING_IDENTITY:-}" ] && [ -n "${APPLE_API_ISSUER:-}" ] &&
      [ -n "${APPLE_API_KEY:-}" ] && [ -n "${APPLE_API_KEY_P8_BASE64:-}" ]; then
      say "signing with the Developer ID certificate and notarising"
      APPLE_API_KEY_PATH=$(mktemp -d)/AuthKey.p8
      export APPLE_API_KEY_PATH
      printf '%s' "$APPLE_API_KEY_P8_BASE64" | base64 --decode > "$APPLE_API_KEY_PATH"
      sign_args=()
      suffix=
    else
      say "no Apple signing secrets: the .dmg is neither signed with a Developer ID nor notarised"
      unset APPLE_CERTIFICATE APPLE_CERTIFICATE_PASSWORD APPLE_SIGNING_IDENTITY \
        APPLE_API_ISSUER APPLE_API_KEY
    fi
    bash scripts/tauri.sh build --ci --target universal-apple-darwin --bundles dmg ${sign_args[@]+"${sign_args[@]}"} \
      "${profile[@]}"
    cp "$bundle_root"/dmg/*.dmg "$out/softtoken-$version-macos-universal$suffix.dmg"
    if [ -z "$suffix" ]; then
      # The bundler notarises and staples the .app inside; the .dmg around it gets its own
      # ticket so Gatekeeper accepts the download itself, offline too.
      dmg="$out/softtoken-$version-macos-universal.dmg"
      xcrun notarytool submit "$dmg" --key "$APPLE_API_KEY_PATH" --key-id "$APPLE_API_KEY" \
        --issuer "$APPLE_API_ISSUER" --wait
      xcrun stapler staple "$dmg"
      rm -f "$APPLE_API_KEY_PATH"
      codesign --verify --deep --strict --verbose=2 "$bundle_root"/macos/*.app
      xcrun stapler validate "$bundle_root"/macos/*.app
      xcrun stapler validate "$dmg"
    fi
    ;;
  *)
    echo "usage: build-desktop.sh linux|windows|macos" >&2
    exit 2
    ;;
esac
ls -l "$out"
