#!/usr/bin/env python3
"""make_seeds.py — writes the seed corpora of the fuzz targets that come from other files:
rules/ and context/ from tests/vectors/targeting.json, zoneinfo/ from /usr/share/zoneinfo
plus two made here.  config/ and auth/ are written by hand.  Run from anywhere; it
rewrites only seed_* files, never regressions/.

    python3 tests/fuzz/make_seeds.py
"""
import json
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def slug(text):
    return re.sub(r'[^a-z0-9]+', '_', text.lower()).strip('_')[:60]


def compact(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode()


def fresh_dir(name):
    path = os.path.join(HERE, name)
    os.makedirs(path, exist_ok=True)
    for f in os.listdir(path):
        if f.startswith('seed_'):
            os.remove(os.path.join(path, f))
    return path


def write(path, name, data):
    with open(os.path.join(path, 'seed_' + name), 'wb') as f:
        f.write(data)


def rules_and_context():
    with open(os.path.join(TOP, 'tests/vectors/targeting.json')) as f:
        vectors = json.load(f)
    rules_dir = fresh_dir('rules')
    context_dir = fresh_dir('context')
    seen = set()
    invalid = 0
    contexts = {}
    for v in vectors:
        if 'context' in v:
            contexts.setdefault(compact(v['context']), slug(v['name']))
        # One vector per group ("op in: ...", "DST Berlin fall: ..."); every fifth invalid one.
        group = v['name'].split(':')[0]
        if group == 'invalid':
            invalid += 1
            if invalid % 5 != 1:
                continue
            group = v['name']
        if group in seen:
            continue
        seen.add(group)
        t = v['toggle']
        options = 0
        if any('tz' in json.dumps(r) for r in t.get('rules', [])):
            options |= 1            # TG_CHECK_ZONES, as the extension's trigger compiles
        if not t.get('is_active', True):
            options |= 2
        parts = [compact(t['rules']) if 'rules' in t else b'',
                 compact(t['variants']) if 'variants' in t else b'',
                 compact(v['context']) if 'context' in v else b'',
                 v.get('at', '').encode(),
                 t['name'].encode()]
        write(rules_dir, slug(v['name']), bytes([options]) + b'\0'.join(parts))
    for text, name in list(contexts.items())[:40]:
        write(context_dir, name, text)
    # A pretty-printed one, escapes, duplicates, deep arrays, big numbers.
    write(context_dir, 'hand_pretty', b'{\n  "key": "user-1",\n  "country": "DE",\n'
          b'  "tags": ["beta", "staff"],\n  "age": 42.0\n}\n')
    write(context_dir, 'hand_escapes', '{"key":"\\u00fcser\\ud83d\\ude00","email":"a@b.c\\n",'
          '"name":"Zoë"}'.encode())
    write(context_dir, 'hand_duplicates', b'{"key":"a","key":"b","plan":1,"plan":"pro"}')
    write(context_dir, 'hand_numbers', b'{"key":-12e3,"age":1e-999999999,"score":123456789'
          b'01234567890.000,"version":"1.2.3-rc.1+b7"}')
    write(context_dir, 'hand_nesting', b'{"tags":[[1],[[2]],{"a":{}}],"key":null,"beta":true}')


def tzif(version, transitions, types, abbrevs, footer):
    """A minimal TZif file: for version 2+ an empty v1 block and a 64-bit block."""
    def block(time_size):
        fmt = '>q' if time_size == 8 else '>i'
        head = b'TZif' + version + b'\0' * 15 + struct.pack(
            '>6I', 0, 0, 0, len(transitions), len(types), len(abbrevs))
        body = b''.join(struct.pack(fmt, t) for t, _ in transitions)
        body += bytes(i for _, i in transitions)
        body += b''.join(struct.pack('>iBB', off, dst, idx) for off, dst, idx in types)
        return head + body + abbrevs
    if version == b'\0':
        return block(4)
    empty_v1 = b'TZif' + version + b'\0' * 15 + struct.pack('>6I', 0, 0, 0, 0, 1, 1) + \
        struct.pack('>iBB', 0, 0, 0) + b'\0'
    return empty_v1 + block(8) + b'\n' + footer + b'\n'


def zoneinfo():
    out = fresh_dir('zoneinfo')
    for zone in ['Etc/GMT+5', 'Asia/Kolkata', 'Asia/Tehran', 'Antarctica/Troll',
                 'America/Nuuk', 'Australia/Lord_Howe', 'Europe/Berlin', 'Pacific/Chatham']:
        src = os.path.join('/usr/share/zoneinfo', zone)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out, 'seed_' + slug(zone)))
    # Version 1 only (32-bit times, no footer), and a footer-only version 3 file with a
    # rule whose times cross midnight and the year (RFC 8536 section 3.3.1).
    write(out, 'v1_only', tzif(b'\0', [(-2000000000, 0), (0, 1), (1000000000, 0)],
                               [(3600, 0, 0), (7200, 1, 4)], b'CET\0CEST\0', b''))
    write(out, 'v3_footer_only', tzif(b'3', [], [(-10800, 0, 0)], b'-03\0',
                                      b'<-03>3<-02>,J1/-1,J365/25'))


if __name__ == '__main__':
    rules_and_context()
    zoneinfo()
