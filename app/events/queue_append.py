"""How a delivery goes into the stream: one atomic, idempotent append in Redis.

The append is a script, so its checks and its writes happen as one step:

- **late**: an append that reaches Redis after the moment its sender stopped waiting (a
  `CLIENT PAUSE WRITE`, a stalled connection) does nothing, so a delivery the intake then
  processed inline is never also queued;
- **duplicate**: a delivery whose dedupe key (sha256 of channel and body) names an entry still in
  the stream is not appended again (the same event is already waiting: a worker deletes the key
  when it starts on the entry, so a delivery arriving after that is queued again);
- **full**: a stream at its length cap takes nothing more (the intake answers 503);
- otherwise the entry is appended and the dedupe key set, with an expiry, to its id.

An append whose answer never came (the connection broke after the request went out) may have
landed; the intake then processes inline and *voids* the entry's token, and a worker acknowledges
a voided entry without processing it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from app.events.model import RawRequest
from app.events.sources.zoho_crm import TOKEN_FIELD, stored_body

# Seconds a dedupe key and a void marker live (the worker deletes the dedupe key sooner, when it
# starts on the entry). Longer than any entry should wait.
DEDUPE_TTL_SECONDS = 3600
VOID_TTL_SECONDS = 3600
DEDUPE_PREFIX = "attio-bridge:events:dedupe:"
VOID_PREFIX = "attio-bridge:events:void:"

# KEYS[1] stream, KEYS[2] dedupe key, KEYS[3] void key. ARGV[1] not-after (Redis ms; 0: none),
# ARGV[2] length cap, ARGV[3] dedupe ttl ms, ARGV[4] the void keys' prefix, ARGV[5..] the
# entry's field/value pairs.
# Returns {outcome, entry id or '', Redis now in ms}.
APPEND_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local not_after = tonumber(ARGV[1])
if (not_after > 0 and now > not_after) or redis.call('EXISTS', KEYS[3]) == 1 then
  return {'late', '', now}
end
local held = redis.call('GET', KEYS[2])
if held then
  local entry = redis.call('XRANGE', KEYS[1], held, held)
  if #entry > 0 then
    local fields = entry[1][2]
    local voided = false
    for i = 1, #fields, 2 do
      if fields[i] == 'token' and redis.call('EXISTS', ARGV[4] .. fields[i + 1]) == 1 then
        voided = true
      end
    end
    if not voided then return {'duplicate', held, now} end
  end
end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then
  return {'full', '', now}
end
local values = {}
for i = 5, #ARGV do values[#values + 1] = ARGV[i] end
local id = redis.call('XADD', KEYS[1], '*', unpack(values))
redis.call('SET', KEYS[2], id, 'PX', tonumber(ARGV[3]))
return {'appended', id, now}
"""

# KEYS[1] dedupe key; ARGV[1] the entry id. Deleted only while it still names this entry.
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class AppendResult:
    outcome: str  # appended, duplicate, full, late
    entry_id: str
    redis_now_ms: int


def dedupe_key(channel: str, body: str) -> str:
    """One key per event as sent: a replayed or duplicated delivery has the same body."""
    digest = hashlib.sha256(f"{channel}\n{body}".encode()).hexdigest()
    return f"{DEDUPE_PREFIX}{digest}"


def void_key(token: str) -> str:
    return f"{VOID_PREFIX}{token}"


def without_crm_token(raw: RawRequest) -> RawRequest:
    """A Zoho CRM notification as queued and as recorded: the channel token removed.

    The token is the route's only credential and was checked before the delivery was queued;
    the worker rebuilds the events as a replay does (known channel, product re-fetched from
    Zoho), so nothing it holds needs the token. A body that is not a JSON object is kept as is
    (it cannot have come through the intake).
    """
    try:
        data = json.loads(raw.body)
    except (ValueError, RecursionError):
        return raw
    if not isinstance(data, dict) or TOKEN_FIELD not in data:
        return raw
    headers = {k: v for k, v in raw.headers.items() if k == "content-type"}
    return RawRequest(body=stored_body(data), headers=headers, query=raw.query, path=raw.path)
