#!/bin/sh
# usage: parse-files.sh BINDIR < paths
# Run by RDD.pipe() on an executor: for each feed file path on standard input, tally-parse it with
# the feed its name gives (court-20261127.xml.gz is the court feed). Records go to standard output;
# the first failure stops the task with tally-parse's own message and status.
set -e
bin=$1
while IFS= read -r path; do
    name=$(basename "$path")
    "$bin/tally-parse" --feed "${name%%-*}" "$path"
done
