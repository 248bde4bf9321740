#!/bin/sh
# Translation catalogs. Chinese is the source language (the msgids); English is the
# one translation, in marketplace/translations/en/LC_MESSAGES/messages.po.
#   scripts/i18n.sh extract   # sources → marketplace/translations/messages.pot
#   scripts/i18n.sh update    # extract, then merge the .pot into every .po (new strings arrive empty)
#   scripts/i18n.sh compile   # .po → .mo (not committed: `make` and the tests need them compiled)
#   scripts/i18n.sh init LANG # start a catalog for another language
# tests/test_i18n.py fails while any extracted msgid has no English translation.
set -eu
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
DIR=marketplace/translations
POT="$DIR/messages.pot"

extract() {
  # "." with babel.cfg's root-relative patterns; dot-directories (.venv, .git) are skipped.
  "$PYBABEL" extract -F babel.cfg -o "$POT" --sort-by-file --no-wrap \
    --ignore-dirs=".* ._ __pycache__ instance static node_modules test-artifacts" \
    --project=marketplace --copyright-holder="marketplace maintainers" .
}

case "${1:-}" in
  extract) extract ;;
  update)
    extract
    "$PYBABEL" update -i "$POT" -d "$DIR" --no-wrap --ignore-obsolete --no-fuzzy-matching
    ;;
  compile) "$PYBABEL" compile -d "$DIR" --statistics ;;
  init) extract; "$PYBABEL" init -i "$POT" -d "$DIR" -l "${2:?language code}" --no-wrap ;;
  *) echo "usage: $0 extract|update|compile|init LANG" >&2; exit 2 ;;
esac
