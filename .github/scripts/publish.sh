#!/usr/bin/env bash
# Publishes a tagged release as a draft on GitHub (docs/RELEASE.md): every artefact in
# artifacts/, SHA256SUMS over them, and SHA256SUMS.asc, a detached OpenPGP signature with the
# release key when RELEASE_GPG_PRIVATE_KEY (armoured) and RELEASE_GPG_PASSPHRASE are set.
# Without the key there is no .asc and the release notes say the sums are unsigned.
#
# Refuses, before anything is published, a phone build whose application id is the QA or debug
# one or that is debuggable (check-artefacts.py).
#
# Needs GH_TOKEN (contents: write), GITHUB_REF_NAME and GITHUB_REPOSITORY; gh, gpg, sha256sum,
# python3 and cargo (the SBOMs read Cargo's resolved graph).
set -euo pipefail
cd "$(dirname "$0")/../.."

say() { printf '==> publish: %s\n' "$*"; }

tag=${GITHUB_REF_NAME:?}
release="release-files"
rm -rf "$release"
mkdir -p "$release"
find artifacts -type f \( -name '*.apk' -o -name '*.aab' -o -name '*.ipa' -o -name '*.zip' \
  -o -name '*.msi' -o -name '*.dmg' -o -name '*.deb' -o -name '*.rpm' -o -name '*.AppImage' \) \
  -exec cp {} "$release/" \;
# Never a test build as a release: each APK, AAB and IPA must carry the customer app's id and
# not be debuggable, read from its own manifest (check-artefacts.py, docs/RELEASE.md).
python3 .github/scripts/check-artefacts.py "$release"/*
# The SBOM (CycloneDX) of each released program for its platform, beside the checksums and
# covered by them (sbom.py, docs/SUPPLY-CHAIN.md); the server's describes the source-built
# reference server of this tag.
version=$(python3 .github/scripts/stage-tauri-config.py --version)
sbom() { python3 .github/scripts/sbom.py --package "$1" --target "$2" --out "$release/$3.cdx.json"; }
sbom softtoken-app x86_64-unknown-linux-gnu "softtoken-$version-linux-x86_64"
sbom softtoken-app x86_64-pc-windows-msvc "softtoken-$version-windows-x86_64"
# The universal macOS app links the same crates for both of its architectures.
sbom softtoken-app aarch64-apple-darwin "softtoken-$version-macos-universal"
for abi in aarch64-linux-android:arm64 armv7-linux-androideabi:arm i686-linux-android:x86 \
  x86_64-linux-android:x86_64; do
  sbom softtoken-app "${abi%%:*}" "softtoken-$version-android-${abi##*:}"
done
if [ "${IOS_RESULT:-success}" = success ]; then
  sbom softtoken-app aarch64-apple-ios "softtoken-$version-ios"
fi
sbom softtoken-server x86_64-unknown-linux-gnu "softtoken-server-$version-linux-x86_64"
(cd "$release" && sha256sum -- * > SHA256SUMS)
cat "$release/SHA256SUMS"

notes=$(mktemp)
{
  echo "softtoken $tag. Check a download against SHA256SUMS before installing (docs/RELEASE.md):"
  echo
  echo '    sha256sum --check --ignore-missing SHA256SUMS'
  echo
  echo "Each program's software bill of materials (CycloneDX) is the matching .cdx.json file."
  echo
} > "$notes"
if [ -n "${RELEASE_GPG_PRIVATE_KEY:-}" ] && [ -n "${RELEASE_GPG_PASSPHRASE:-}" ]; then
  say "signing SHA256SUMS with the release key"
  GNUPGHOME=$(mktemp -d)
  export GNUPGHOME
  printf '%s\n' "$RELEASE_GPG_PRIVATE_KEY" | gpg --batch --quiet --import
  printf '%s' "$RELEASE_GPG_PASSPHRASE" | gpg --batch --pinentry-mode loopback --passphrase-fd 0 \
    --armor --detach-sign --output "$release/SHA256SUMS.asc" "$release/SHA256SUMS"
  gpg --batch --verify "$release/SHA256SUMS.asc" "$release/SHA256SUMS"
  fingerprint=$(gpg --batch --with-colons --list-secret-keys | awk -F: '/^fpr:/ {print $10; exit}')
  rm -rf "$GNUPGHOME"
  {
    echo "SHA256SUMS is signed (SHA256SUMS.asc) by the release key $fingerprint:"
    echo
    echo '    gpg --verify SHA256SUMS.asc SHA256SUMS'
  } >> "$notes"
else
  say "no release key: SHA256SUMS is published unsigned"
  echo "**SHA256SUMS is not signed for this release** (no release key was configured)." >> "$notes"
fi
if [ "${IOS_RESULT:-success}" != success ]; then
  # The iOS job is build-only and not required for a release (release.yml, publish).
  echo >> "$notes"
  echo "**No iOS files in this release**: the iOS job ended '$IOS_RESULT'." >> "$notes"
fi
unsigned=("$release"/*-unsigned*)
if [ -e "${unsigned[0]}" ]; then
  echo >> "$notes"
  echo "Files named \`-unsigned\` carry no platform signature: for testing, not for customers." >> "$notes"
fi

say "draft release $tag"
gh release create "$tag" --repo "$GITHUB_REPOSITORY" --draft --verify-tag --title "softtoken $tag" \
  --notes-file "$notes" "$release"/*
