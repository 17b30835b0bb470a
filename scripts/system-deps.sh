#!/usr/bin/env bash
# Debian packages the tests use as real clients: GDAL's command-line tools (ogrinfo,
# ogr2ogr against our OGC API), Chromium for the map tests, a CJK font so Chinese
# labels render in screenshots and PDF reports, Pango for WeasyPrint (the PDF reports),
# poppler-utils (pdftotext, pdffonts, pdfimages and pdftoppm read the reports back), and
# PostgreSQL 15 with PostGIS 3 for the PostGIS store's contract tests (the tests start a
# throwaway cluster of their own and drop it; see tests/helpers/pg.py). Installs only what
# is missing; needs root (CI is root).
set -euo pipefail
missing=()
command -v ogrinfo >/dev/null 2>&1 || missing+=(gdal-bin)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|wqy" || missing+=(fonts-wqy-microhei)
libs=$(ldconfig -p 2>/dev/null || true)  # not piped into grep -q: pipefail would see SIGPIPE
[[ $libs == *"libpango-1.0.so.0 "* ]] || missing+=(libpango-1.0-0)
[[ $libs == *"libpangoft2-1.0.so.0 "* ]] || missing+=(libpangoft2-1.0-0)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
[[ -x /usr/bin/pg_createcluster ]] || missing+=(postgresql-common)
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15)
[[ -f /usr/share/postgresql/15/extension/postgis.control ]] || missing+=(postgresql-15-postgis-3)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: need root to install: ${missing[*]} (or install them yourself)" >&2
    exit 1
  fi
  echo "system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
