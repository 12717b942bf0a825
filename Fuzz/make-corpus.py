#!/usr/bin/env python3
"""Writes the decoder fuzzer's seed corpus (Fuzz/corpus/): real-shaped Segment requests.

Each file is two selector bytes (see Fuzz/Sources/DecoderFuzzer/main.swift) followed by the body.
Deterministic: rerunning rewrites the same files (gzip without a timestamp).
"""
import gzip
import json
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

IDENTITY, GZIP, DEFLATE, GZIP_HERE = 0, 1, 2, 3
SINGLE = 4
TYPES = ["identify", "track", "page", "screen", "group", "alias"]
TINY = 0x40
GPC = 0x80

# Policy byte.
NO_OVERGRANT, RESTAMP_MISMATCH = 1, 2
MISSING_DROP, MISSING_RESTAMP, MISSING_FORWARD = 0, 4, 8
UNKNOWN_FORWARD, UNAVAILABLE_DROP, SHADOW, NO_GPC = 0x10, 0x20, 0x40, 0x80


def b0(coding=IDENTITY, single=None, tiny=False, gpc=False):
    value = coding
    if single is not None:
        value |= SINGLE | (TYPES.index(single) << 3)
    if tiny:
        value |= TINY
    if gpc:
        value |= GPC
    return value


def track(i, stamp=None, user="user-%d", anon="anon-%d", name="Song Played", context=True, extra=None):
    event = {
        "type": "track",
        "event": name,
        "messageId": "msg-%04d" % i,
        "timestamp": "2026-11-29T10:00:%02d.000Z" % (i % 60),
        "properties": {"name": "Fallin for You", "plays": i, "ratio": 0.75, "tags": ["a", "b"]},
    }
    if user:
        event["userId"] = user % i
    if anon:
        event["anonymousId"] = anon % i
    if context:
        event["context"] = {"library": {"name": "analytics-python", "version": "2.3.4"}, "locale": "en-US"}
        if stamp is not None:
            event["context"]["consent"] = {"categoryPreferences": stamp}
    if extra:
        event.update(extra)
    return event


def batch(events, shared=None, **kw):
    body = {"batch": events, "sentAt": "2026-11-29T10:00:01.000Z", "writeKey": "wk-test"}
    if shared is not None:
        body["context"] = {"consent": {"categoryPreferences": shared}}
    body["integrations"] = {"All": True, "Mixpanel": False}
    body.update(kw)
    return body


def dumps(obj, indent=None, ascii=False):
    return json.dumps(obj, indent=indent, ensure_ascii=ascii, separators=None if indent else (",", ":")).encode()


STAMP = {"Advertising": False, "Analytics": True}
FULL = {"Advertising": True, "Analytics": True, "DataSharing": False, "Functional": True, "Marketing": False}

seeds = {}

plain = dumps(batch([track(1, STAMP), track(2, FULL), track(3, None)], shared={"Analytics": True}))
seeds["batch-plain"] = (b0(), RESTAMP_MISMATCH, plain)
seeds["batch-gzip"] = (b0(GZIP), 0, gzip.compress(plain, mtime=0))
seeds["batch-zlib"] = (b0(DEFLATE), RESTAMP_MISMATCH | MISSING_RESTAMP, zlib.compress(plain))
raw = zlib.compressobj(6, zlib.DEFLATED, -15)
seeds["batch-raw-deflate"] = (b0(DEFLATE), 0, raw.compress(plain) + raw.flush())
seeds["batch-gzip-here"] = (b0(GZIP_HERE), RESTAMP_MISMATCH, plain)

seeds["single-track"] = (b0(single="track"), RESTAMP_MISMATCH, dumps(track(7, STAMP)))
identify = {"type": "identify", "userId": "user-8", "traits": {"email": "a@example.com", "plan": "pro"},
            "context": {"consent": {"categoryPreferences": FULL}}, "messageId": "m8", "writeKey": "wk"}
seeds["single-identify-gzip"] = (b0(GZIP, single="identify"), MISSING_FORWARD, gzip.compress(dumps(identify), mtime=0))
seeds["single-page-escapes"] = (
    b0(single="page"),
    RESTAMP_MISMATCH,
    b'{"typ\\u0065":"page","user\\u0049d":"u\\"ser\\\\9","name":"Home\\/Page\\n","context":{"cons\\u0065nt":'
    b'{"categoryPreferences":{"Adv\\u0065rtising":true,"Analytics":false}}},"messageId":"m\\u00e99"}',
)
unicode_events = [
    track(10, {"Ünïcødé": True, "\U0001F36A": False}, user="usér-%d-\u65e5\u672c"),
    track(11, {"Analytics": True}, name="\u00c9v\u00e9nement \U0001F600"),
]
seeds["batch-unicode"] = (b0(), RESTAMP_MISMATCH, dumps(batch(unicode_events)))
seeds["batch-unicode-escaped"] = (b0(GZIP_HERE), RESTAMP_MISMATCH, dumps(batch(unicode_events), ascii=True))
insertion = [
    {"type": "track", "event": "No Context", "userId": "u12"},
    {"type": "track", "event": "Empty Context", "userId": "u13", "context": {}},
    {"type": "track", "event": "No Consent", "userId": "u14", "context": {"locale": "de-DE"}},
    {"type": "track", "event": "Empty Consent", "userId": "u15", "context": {"consent": {}}},
    {"type": "track", "event": "Empty Stamp", "userId": "u16", "context": {"consent": {"categoryPreferences": {}}}},
]
seeds["batch-restamp-insertions"] = (b0(), RESTAMP_MISMATCH | MISSING_RESTAMP, dumps(batch(insertion)))
invalid_items = (
    b'{"batch":[1,"two",null,[3],{"event":"no type","userId":"u"},{"type":"track","event":"e","userId":{"id":1}},'
    b'{"type":"track","event":"e","userId":"u","userId":"v"},{"type":"track","event":"e","userId":42,"anonymousId":null},'
    b'{"type":"track","event":"e","userId":"u","context":{"consent":{"categoryPreferences":{"Analytics":"yes"}}}},'
    b'{"type":"group","userId":"u"},{"type":"alias","userId":"u"},{"type":"track","userId":"u"},{"type":"screen","anonymousId":""}],'
    b'"writeKey":"wk"}'
)
seeds["batch-invalid-items"] = (b0(), UNKNOWN_FORWARD, invalid_items)
update = track(17, {"Advertising": True}, name="Segment Consent Preference Updated")
seeds["batch-preference-update"] = (b0(), 0, dumps(batch([update, track(18, {"Advertising": True})])))
seeds["batch-pretty"] = (b0(), RESTAMP_MISMATCH, dumps(batch([track(19, STAMP), track(20, FULL)]), indent=4))
seeds["batch-tiny-too-many"] = (
    b0(tiny=True), 0, dumps({"batch": [{"type": "track", "event": "e", "userId": "u%d" % i} for i in range(9)]}))
seeds["batch-deep-nesting"] = (b0(), 0, b'{"batch":[{"type":"track","event":"e","userId":"u","properties":' + b"[" * 70 + b"]" * 70 + b"}]}")
group_alias = [
    {"type": "group", "userId": 21, "groupId": "g-1", "traits": {"name": "Acme"}, "context": {"consent": {"categoryPreferences": STAMP}}},
    {"type": "alias", "previousId": "anon-22", "userId": "user-22", "context": {"consent": {"categoryPreferences": STAMP}}},
    {"type": "screen", "anonymousId": -2.5e3, "name": "Home", "context": {"consent": {"categoryPreferences": STAMP}}},
    {"type": "page", "userId": "user-23", "context": {"consent": {"categoryPreferences": STAMP}}},
]
seeds["batch-group-alias"] = (b0(), NO_OVERGRANT | RESTAMP_MISMATCH, dumps(batch(group_alias)))
seeds["batch-shadow"] = (b0(), SHADOW, plain)
seeds["batch-gpc"] = (b0(gpc=True), RESTAMP_MISMATCH | UNAVAILABLE_DROP, dumps(batch([track(24, FULL), track(25, {"DataSharing": True})])))
seeds["batch-missing-stamps-restamp"] = (
    b0(), MISSING_RESTAMP | UNKNOWN_FORWARD, dumps(batch([track(26, None), track(27, None, context=False)])))
seeds["gzip-trailing-garbage"] = (b0(GZIP), 0, gzip.compress(plain, mtime=0) + b"garbage")
truncated = gzip.compress(plain, mtime=0)
seeds["gzip-truncated"] = (b0(GZIP), 0, truncated[: len(truncated) // 2])
seeds["bomb-zeros"] = (b0(GZIP, tiny=True), 0, gzip.compress(b" " * 200_000, mtime=0))
seeds["batch-duplicate-envelope"] = (b0(), 0, b'{"batch":[],"batch":[{"type":"track","event":"e","userId":"u"}]}')
seeds["batch-envelope-oddities"] = (
    b0(), RESTAMP_MISMATCH,
    b'{"sentAt":"2026-11-29T10:00:01Z","context":{"ip":"0.0.0.0","consent":{"categoryPreferences":{"Analytics":true}}},'
    b'"batch":[ {"type":"track","event":"e","userId":"u1"} ,\n {"type":"identify","anonymousId":"a2"} ],'
    b'"integrations":{},"extra":[true,false,null,-0.0e+0]}',
)

os.makedirs(OUT, exist_ok=True)
for name, (first, second, body) in sorted(seeds.items()):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([first, second]) + body)
print("wrote %d seeds to %s" % (len(seeds), OUT))
