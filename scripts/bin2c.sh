#!/usr/bin/env bash
# bin2c.sh FILE NAME: prints a C header embedding FILE as
#   static const unsigned char NAME[] = {...}; static const size_t NAME_len;
# (od instead of xxd -i: coreutils is always there).
set -euo pipefail
file=$1 name=$2
size=$(stat -c %s "$file")
echo "/* Generated from $file by scripts/bin2c.sh; do not edit. */"
echo "#include <stddef.h>"
echo "static const unsigned char ${name}[] = {"
od -An -v -tx1 "$file" | sed -E 's/ *([0-9a-f]{2})/0x\1,/g; s/^/  /'
echo "};"
echo "static const size_t ${name}_len = ${size};"
