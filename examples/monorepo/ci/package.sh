#!/bin/sh
# package.sh SERVICE_DIR OUT: the service and the shared library as one runnable zipapp.
set -eu
service=$1 out=$2
build=$(mktemp -d)
cp -R "$service"/. "$build"/
cp -R libs/shared "$build"/shared
rm -f "$build"/test_*.py
mkdir -p "$(dirname "$out")"
python3 -m zipapp "$build" -m app:main -p '/usr/bin/env python3' -o "$out"
echo "packaged $service as $out"
