#!/usr/bin/env bash
# Publishes a tagged release as a draft on GitHub (docs/RELEASE.md): every artefact in
# artifacts/, SHA256SUMS over them, and SHA256SUMS.asc, a detached OpenPGP signature with the
# release key when RELEASE_GPG_PRIVATE_KEY (armoured) and RELEASE_GPG_PASSPHRASE are set.
# Without the key there is no .asc and the release notes say the sums are unsigned.
#
# Refuses, before anything is published, a phone build whose application id is the QA or debug
# one or that is debuggable (check-artefacts.py).
#
# Needs GH_TOKEN (contents: write), GITHUB_REF_NAME and GITHUB_REPOSITORY; gh, gpg, sha256sum.
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
(cd "$release" && sha256sum -- * > SHA256SUMS)
cat "$release/SHA256SUMS"

notes=$(mktemp)
{
  echo "softtoken $tag. Check a download against SHA256SUMS before installing (docs/RELEASE.md):"
  echo
  echo '    sha256sum --check --ignore-missing SHA256SUMS'
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
