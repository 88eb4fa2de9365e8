"""What counts as a secret in a chat message, and hiding it: the one place that decides (issue 12).

People paste passwords and codes into the chat ("my password is Hunter2! and it stopped working",
"验证码是482913，登录不了"). `find_secrets` says where they are, `mask_secrets` replaces each with
MASK. Ticket transcripts, the review export and the tracker store mask through here; the web
widget has the same rules in webchat/src/secrets.js (change both). tests/secrets_corpus.yml is the
truth for both: tests/unit/core/test_secrets.py runs it here, tests/integration/core/test_secrets_js.py
runs it through Node on the JS copy and checks that both give the same output.

A secret is:
- a password, passphrase, PIN, app password or token after its cue word, in English or Chinese:
  "password is X", "password: X", "pw X", "mypassword=X", "密码是X", "我的密码Abc12345",
  "the password for my account is X", quoted text. After "is"/":"/"=" the value runs to the end
  of the clause (passphrases: "correct horse battery staple and it stopped" keeps "and it
  stopped"), unless the word is an ordinary one ("my password is wrong", "密码是对的"); without a
  separator the word must look like a secret (a digit or a symbol: "password Hunter2").
- a verification code: 4-10 digits (123456, 123 456, 12-34-56, ４８２９１３) right after a code cue
  ("code: 4829", "验证码482913"), near one in the same sentence, a 6-digit number on its own, or
  a message that is only a number. Not years, dates, times, sizes, counts ("20 MB", "3次"),
  ticket ids (ALM-000123), error codes (550 5.7.1), phone numbers, numbers in e-mail addresses.
- an app password (abcd-efgh-ijkl-mnop, or abcd efgh ijkl mnop / 16 letters near a password cue),
  a token or API key (xoxb-, sk-, ghp_, AKIA, JWTs, long high-entropy strings), a strong
  password standing alone (upper, lower, digit and symbol: P@ssw0rd9), a card number (13-19
  digits, Luhn-valid).

Time: every pattern is linear (bounded repetitions, no nested quantifiers over overlapping
classes, every per-match look-around bounded); `find_secrets` is tested on 200,000-character
adversarial texts. `mask_secrets` first keeps the first MAX_MESSAGE_CHARS characters (the web
channel's own limit) and replaces the rest with TRUNCATED. Patterns use explicit character
classes (no \\w, \\d, \\s, \\b, no look-behind) so that Python and JavaScript read them alike.
"""

from __future__ import annotations

import bisect
import re
from typing import List, NamedTuple, Optional, Sequence, Tuple

MASK = "[hidden]"
TRUNCATED = "[truncated]"
MAX_MESSAGE_CHARS = 10_000  # = channels.webchat's cap: nothing a channel accepts is cut here

PASSWORD, CODE, APP_PASSWORD, TOKEN, CARD = "password", "code", "app_password", "token", "card"


class Secret(NamedTuple):
    """Where a secret is in a text (`text[start:end]`) and what kind it is."""

    start: int
    end: int
    kind: str


_I = re.IGNORECASE | re.ASCII  # ASCII case folding only, as JavaScript's "i" without "u"

# --- cue words ------------------------------------------------------------------------------------
_CUE = re.compile(
    r"(?=[pPoO2mMtTcCaAsSvV密口授令验动校短确安激登随])"  # a first-character filter: scanning stays fast
    r"(?:(?:passphrase|passcode|password|passwd|pasword|passwrd|passowrd|passwort|pass|pwd|pw|pin码|pin"
    r"|otp|2fa|mfa|totp|codes|code"
    r"|api[ _-]?key|access[ _-]?key|secret[ _-]?key|client[ _-]?secret|access[ _-]?token|auth[ _-]?token|token"
    r"|verification|verify|sms|texted)(?![A-Za-z0-9_])"
    r"|密码|口令|授权码|密钥|令牌"
    r"|验证码|动态码|校验码|短信码|确认码"
    r"|安全码|激活码|登录码|随机码"
    r"|短信|验证)",
    _I,
)
# Each cue (lower case, without spaces, "_" and "-"): the kind of secret it announces ("" for none)
# and whether it announces a verification code nearby.
_CUE_KINDS = {
    **dict.fromkeys(
        ["passphrase", "password", "passwd", "pasword", "passwrd", "passowrd", "passwort"], (PASSWORD, False)
    ),
    **dict.fromkeys(["pass", "pwd", "pw", "密码", "口令", "授权码"], (PASSWORD, False)),
    **dict.fromkeys(["passcode", "pin", "pin码"], (PASSWORD, True)),
    **dict.fromkeys(["otp", "2fa", "mfa", "totp", "codes", "code"], (CODE, True)),
    **dict.fromkeys(
        ["验证码", "动态码", "校验码", "短信码", "确认码", "安全码", "激活码", "登录码", "随机码"], (CODE, True)
    ),
    **dict.fromkeys(["apikey", "accesskey", "secretkey", "clientsecret", "accesstoken", "authtoken"], (TOKEN, False)),
    **dict.fromkeys(["token", "密钥", "令牌"], (TOKEN, False)),
    **dict.fromkeys(["verification", "verify", "sms", "texted", "短信", "验证"], ("", True)),
}
# May follow letters ("mypassword=x"); the misspelt ones are typed often enough.
_LONG_CUES = {"passphrase", "passcode", "password", "passwd", "pasword", "passwrd", "passowrd", "passwort"}
# "error code 550", "QR code": not a code the user was sent.
_NOT_A_CODE_CUE = re.compile(
    r"(?:error|status|response|reply|smtp|bounce|return|exit|reason|diagnostic|dsn|zip|postal|post|area|country"
    r"|qr|bar|source|html|promo|promotion|discount|coupon|invite|invitation|referral|sap|transaction|vs"
    r"|错误|状态|邮政|邀请|优惠)[ \t_-]{0,2}\Z",
    _I,
)

# --- what follows a cue ---------------------------------------------------------------------------
_SP = " \t\u00a0\u3000"
_SEP = re.compile(
    r"[ \t\u00a0\u3000]{0,3}(?:"
    r"(?P<colon>(?:is|was)?[ \t]{0,2}[:=\uff1a\uff1d])"
    r"|(?P<is>(?:(?:is|was|are|were)(?:[ \t]{1,3}(?:now|still|just|actually|currently|definitely|literally"
    r"|simply|probably|set[ \t]{1,3}to|changed[ \t]{1,3}to|reset[ \t]{1,3}to))?"
    r"|should[ \t]{1,3}be|used[ \t]{1,3}to[ \t]{1,3}be|(?:set|changed|reset|updated)[ \t]{1,3}to"
    r"|['\u2019]s)(?![A-Za-z0-9_])"
    r"|(?:就是|应该是|还是|改成了|改成|改为|设为|设成|设置为|设置成|换成了|换成|是|为)"
    r"(?:[ \t\u3000]{0,3}[:=\uff1a\uff1d])?)"
    r"|(?P<to>to(?![A-Za-z0-9_]))"
    r")?[ \t\u00a0\u3000]{0,8}",
    _I,
)
# "the password for my account is X": up to three words between the cue and "is" / ":".
_QUALIFIER = re.compile(
    r"[ \t]{1,3}(?:for|of|on|in|at)(?:[ \t]{1,3}[^ \t\r\n:=\uff1a]{1,40}){1,3}?"
    r"(?=[ \t]{0,3}(?:(?:is|was)(?![A-Za-z0-9_])|[:=\uff1a]))",
    _I,
)
_VALUE_CHARS = "\\x21-\\x7e\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"  # visible ASCII, full-width letters/digits
_WORD = re.compile("[" + _VALUE_CHARS + "]{1,128}")
_NEXT_WORD = re.compile("[ \\t]{1,2}([" + _VALUE_CHARS + "]{1,128})")
_IS_VALUE_CHAR = re.compile("[" + _VALUE_CHARS + "]")
_QUOTES = {
    '"': '"',
    "'": "'",
    "`": "`",
    "\u201c": "\u201d",
    "\u2018": "\u2019",
    "\u300c": "\u300d",
    "\u300e": "\u300f",
    "\uff02": "\uff02",
}
_MAX_QUOTED, _MAX_WORDS, _MAX_VALUE = 100, 6, 100
_STRIP_LEFT = "([{<\"'`\u201c\u2018\u300c"
_STRIP_RIGHT = ")]}>\"'`.,;:!?\u2026\u201d\u2019\u300d"
_CLAUSE_END = ".,;!?"
# Words that are not a password after "password is" / ":", and end a passphrase.
_FUNCTION_WORDS = frozenset(
    """
    a an the my your his her its our their this that these those it i me you he she we they them us mine yours
    is was are were be been being am not no never none nothing n/a na null nil empty blank unknown
    and or but so because cause cuz coz since then than though although if when while until after before as also
    too for from with without by about into onto of on in at to up down out over under again via per
    still now just already yet only even ever really very quite definitely probably maybe actually apparently
    literally simply exactly currently basically supposed supposedly usually always sometimes
    what which who whom whose how why where here there
    please pls plz thanks thank thx ty help sorry hi hello hey lol idk
    something anything everything all any some more less most least every each other another one
    can cant can't cannot could couldn't couldnt will won't wont would wouldn't wouldnt should shouldn't
    shouldnt must may might do does did don't dont doesn't doesnt didn't didnt isn't isnt wasn't wasnt aren't
    arent weren't werent has have had hasn't hasnt haven't havent hadn't i'm im i've ive i'd it's that's thats
    like such hidden email phone truncated 2fa 2sv mfa otp sms 2-step two-step two-factor
    """.split()
)
# Words that say how a password is ("my password is wrong"); a passphrase may still start with one
# when two more words follow ("correct horse battery staple").
_STATE_WORDS = frozenset(
    """
    correct incorrect wrong right invalid valid ok okay fine good bad same different new old weak strong long
    short simple complex secure safe unsafe expired expiring expires locked blocked disabled rejected denied
    refused forgotten forgot lost gone changed reset required needed missing working broken compromised leaked
    stolen hacked saved stored remembered set sent accepted case sensitive character characters chars digits
    digit letters numbers symbols length recovery policy manager field box prompt page link mail account
    login log sign change update expiry expiration requirement requirements rules rule weird strange unchanged
    known temporary default initial complicated easy hard difficult random unique personal private shared
    identical similar mandatory optional outdated current previous latest first second last
    """.split()
)
_NOT_SECRET = _FUNCTION_WORDS | _STATE_WORDS
_CODE_WORD = re.compile("[0-9\uff10-\uff19]{4,10}|[A-Za-z0-9]{4,12}|[Gg]-[0-9]{6}")
_SYMBOL = re.compile(r"[!@#$%^&*+=?~]")
_ALNUM = re.compile("[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_EMAIL = re.compile(r"[^@ \t\r\n]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_ED_ING_LY = re.compile(r"[a-z]{2,}(?:ed|ing|ly)")

# --- digits ---------------------------------------------------------------------------------------
_CHAIN = re.compile("[0-9\uff10-\uff19]{1,20}(?:[ \\-\u3000][0-9\uff10-\uff19]{1,20}){0,7}")
_CHAIN_SEPS = " -\u3000"
_CHAIN_SPLIT = re.compile("[ \\-\u3000]")
_UNIT = re.compile(
    r"[ \t]{0,2}(?:(?:mb|kb|gb|tb|bytes?|ms|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?|months?|years?"
    r"|yrs?|times|e?-?mails?|messages?|msgs?|users?|accounts?|people|persons|recipients?|attempts?|tries"
    r"|characters?|chars?|digits?|letters?|words?|px|percent|items?|files?|pages?|lines?|rmb|yuan|usd|dollars?"
    r"|euros?|am|pm)(?![A-Za-z])|%"
    r"|[封个次人条秒分小天年月日号位元块字"
    r"兆毫遍点岁周项页行台张份])",
    _I,
)
_NOT_CODE_BEFORE = re.compile(
    r"(?:(?:^|[^A-Za-z])(?:ticket|case|order|invoice|ref|reference|id|qq|uid|phone|tel|telephone|mobile|cell|call"
    r"|dial|hotline|fax|ext|extension|port|version|ver|build|room|floor|step|error|err|status|smtp|http|postal"
    r"|zip|employee|staff|ending[ \t]in|ends[ \t]in|ending[ \t]with)(?:[ \t]{0,2}(?:code|number|no\.?|id))?"
    r"(?:[ \t]{1,2}(?:is|was))?"
    r"|工单号|工单|单号|编号|订单号|订单|账号"
    r"|帐号|工号|电话|手机号|手机|热线|拨打|致电"
    r"|尾号|错误码|错误代码|错误|分机|邮编|端口"
    r"|版本|第)[ \t:\uff1a#.号是为]{0,3}\Z",
    _I,
)
_BREAK = re.compile("[\\n!?\u3002\uff01\uff1f]|\\.(?:[ \\t]|\\Z)")
_WINDOW_BEFORE, _WINDOW_AFTER, _DIRECT_GAP = 48, 24, 20
_EQUAL_GROUPS = {(3, 3), (2, 2, 2), (4, 4), (2, 2, 2, 2), (3, 3, 3)}
_TRIM = " \t\r\n.!?\u3002\uff01\uff1f"

# --- app passwords, tokens, strong passwords standing alone ----------------------------------------
_APP_FOUR = re.compile(
    r"(?:^|[^A-Za-z0-9])(?=([A-Za-z]{4}([ -])[A-Za-z]{4}[ -][A-Za-z]{4}[ -][A-Za-z]{4}))",
)
_FIFTH = re.compile(r"[ -][A-Za-z]{4}(?![A-Za-z0-9])")
_APP_SIXTEEN = re.compile(r"(?:^|[^A-Za-z0-9])([A-Za-z]{16})(?![A-Za-z0-9])")
_APP_CONTEXT = re.compile(
    r"password|passwd|pwd|app|application|imap|smtp|pop3?|client|outlook|thunderbird|foxmail"
    r"|授权码|专用密码|客户端|密码",
    _I,
)
_COMMON_FOUR = frozenset(
    """
    that with have this will your from they know want been good much some time very when come here just like long
    make many more only over such take than them well were what mail used send sent code work does didn need said
    each then into also back even most able about next last user help they them same does done gone open read
    left line list link lost name note once page part plus real rest room seem show side sign site sort step stop
    sure tell test text that told took turn type unit upon view wait week went what whom wish word year yeah
    again also away best both call came case city cold cost date days dear door down draw drop easy else ever face
    fact fail fair fall fast feel file fill find fine fire firm five flag form four free full gave give goes hand
    hard head hear held hold home hope hour idea into item keep kept kind knew land late less life look made mean
    meet mind miss move must near nice none okay only over paid pass past pick plan play post pull push rate says
    save seen self sell sets ship shop sure talk team than that thus till true upon user vote walk wall week wide
    wife wind wise with wont word yours this mine these ours
    """.split()
)
_RUN = re.compile(r"[A-Za-z0-9_.\-]{16,}")
_PIECE = re.compile(r"[_\-]")
_KNOWN_TOKEN = re.compile(
    r"(?:xox[abposr]-|sk-|sk_live_|sk_test_|rk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|ya29\.)"
    r"[A-Za-z0-9_.\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{30,}"
)
_UUID_HEX = re.compile("[0-9a-f]{12}[1-8][0-9a-f]{3}[89ab][0-9a-f]{15}")  # sender and message ids: not secrets
_SHAPE = re.compile(r"[\x21-\x7e]{8,64}")
# Upper and lower case, a digit and a symbol, each found within the (at most 64-character) word.
_STRONG = re.compile(
    r"(?=[^A-Z]{0,63}[A-Z])(?=[^a-z]{0,63}[a-z])(?=[^0-9]{0,63}[0-9])(?=[^!@#$%^&*+=?~]{0,63}[!@#$%^&*+=?~])"
)
_KEY = re.compile(r"[A-Za-z_]{1,30}[=:]")
_IS_SHAPE_CHAR = re.compile(r"[\x21-\x7e]")


# --- helpers --------------------------------------------------------------------------------------
_ALNUM_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _is_alnum(ch: str) -> bool:
    return ch in _ALNUM_CHARS


def _is_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


_DIGIT_CHARS = frozenset("0123456789\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")
_FULL_WIDTH_DIGITS = str.maketrans("\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19", "0123456789")


def _is_digit(ch: str) -> bool:
    return ch in _DIGIT_CHARS


def _ascii_digits(digits: str) -> str:
    """A run of digits (some maybe full-width) in ASCII."""
    return digits.translate(_FULL_WIDTH_DIGITS)


def _strip(word: str) -> str:
    return word.lstrip(_STRIP_LEFT).rstrip(_STRIP_RIGHT)


def _squash(word: str) -> str:
    word = word.lower()
    return word if word in _CUE_KINDS else word.replace(" ", "").replace("_", "").replace("-", "")


def _is_cue_word(word: str) -> bool:
    return _squash(word) in _CUE_KINDS


def _secret_like(word: str) -> bool:
    """A word after a cue without "is"/":" is a secret only with a digit or a symbol in it."""
    if _EMAIL.fullmatch(word):
        return False
    digits = sum(1 for ch in word if _is_digit(ch))
    return digits >= 4 or (digits >= 1 and len(word) >= 4) or _SYMBOL.search(word) is not None


def _accept_first(word: str, strength: Optional[str], kind: str) -> bool:
    """Whether `word`, first after a cue and its separator, is the secret."""
    bare = _strip(word)
    lower = bare.lower()
    if (
        lower in _NOT_SECRET
        or _is_cue_word(bare)
        or not _ALNUM.search(bare)
        or ("@" in bare and _EMAIL.fullmatch(bare))
    ):
        return False  # "password is wrong", "**Forgot Password**", "password: bo@corp.example"
    if kind == CODE:  # 482913, A7K9P2, G-482913
        if _CODE_WORD.fullmatch(bare) is None:
            return False
        digits = sum(1 for ch in bare if ch in _DIGIT_CHARS)
        return digits == len(bare) or digits >= 2
    if len(bare) <= 3 and all(_is_digit(ch) for ch in bare):
        return False  # "password is 8 characters", "pin 12"
    if strength == "colon":
        return True
    if strength == "is":
        return not _ED_ING_LY.fullmatch(lower)  # "password is expired", "is rejecting", "is definitely"
    return _secret_like(bare)


def _may_start_passphrase(word: str) -> bool:
    """A state word ("correct", "expired") is a passphrase's first word only with two more words after it."""
    bare = _strip(word)
    lower = bare.lower()
    return word[-1] not in _CLAUSE_END and (lower in _STATE_WORDS or _ED_ING_LY.fullmatch(lower) is not None)


def _accept_quoted(inner: str, strength: Optional[str], kind: str) -> bool:
    """Whether quoted text after a cue is the secret: 'password is "correct horse"'."""
    bare = _strip(inner.strip(_SP))
    if not bare or bare.lower() in _NOT_SECRET or _is_cue_word(bare):
        return False
    if kind == CODE:
        return _accept_first(bare, strength, kind)
    return strength in ("colon", "is") or _secret_like(bare)


def _stops(word: str) -> bool:
    """Whether a passphrase ends before `word`."""
    bare = _strip(word)
    return (
        not bare or bare.lower() in _NOT_SECRET or _is_cue_word(bare) or ":" in bare or "=" in bare or "\uff1a" in word
    )


def _value(text: str, pos: int, strength: Optional[str], kind: str) -> Optional[Tuple[int, int]]:
    """The span of the secret starting at `pos` (after a cue and its separator), or None."""
    n = len(text)
    if pos >= n:
        return None
    closer = _QUOTES.get(text[pos])
    if closer is not None:
        end = text.find(closer, pos + 1, pos + 1 + _MAX_QUOTED)
        inner = text[pos + 1 : end] if end > pos + 1 else ""
        if inner.strip(_SP) and "\n" not in inner:
            return (pos + 1, end) if _accept_quoted(inner, strength, kind) else None
        pos += 1  # no closing quote: read on as words
    match = _WORD.match(text, pos)
    if match is None or (match.end() < n and _IS_VALUE_CHAR.match(text, match.end())):
        return None  # nothing there, or longer than any password
    passphrase_only = False
    if not _accept_first(match.group(), strength, kind):
        if kind != PASSWORD or strength not in ("colon", "is") or not _may_start_passphrase(match.group()):
            return None
        passphrase_only = True
    start, end = match.start(), match.end()
    if kind != PASSWORD or strength not in ("colon", "is"):
        return start, end
    words = 1
    while words < _MAX_WORDS and text[end - 1] not in _CLAUSE_END:
        following = _NEXT_WORD.match(text, end)
        if following is None or (following.end() < n and _IS_VALUE_CHAR.match(text, following.end())):
            break
        if _stops(following.group(1)) or following.end() - start > _MAX_VALUE:
            break
        end = following.end()
        words += 1
    if passphrase_only and words < 3:
        return None
    return start, end


class _Cue(NamedTuple):
    start: int
    end: int
    kind: str  # PASSWORD, TOKEN, CODE or "" (context only)
    context: bool  # announces a verification code nearby


def _cues(text: str) -> List[_Cue]:
    cues = []
    for match in _CUE.finditer(text):
        word = _squash(match.group())
        start = match.start()
        if start and text[start - 1] in _ALNUM_CHARS and word not in _LONG_CUES and word[0].isascii():
            continue  # "bypass", "barcode"; "mypassword" is fine
        kind, context = _CUE_KINDS[word]
        if word in ("code", "codes") and _NOT_A_CODE_CUE.search(text, max(0, start - 16), start):
            continue
        cues.append(_Cue(start, match.end(), kind, context))
    return cues


def _cue_secrets(text: str, cues: Sequence[_Cue]) -> List[Secret]:
    found: List[Secret] = []
    covered = 0
    for i, cue in enumerate(cues):
        if not cue.kind or cue.start < covered:
            continue
        pos, strength = cue.end, None
        sep = _SEP.match(text, pos)
        if sep is not None:
            strength = sep.lastgroup
            pos = sep.end()
        if i + 1 < len(cues) and cues[i + 1].start == pos:
            continue  # the next cue is no secret: "pin code 1234", "2fa code"
        if cue.kind == CODE and pos < len(text) and text[pos] in _DIGIT_CHARS:
            continue  # digits after a code cue: _digit_secrets reads them (with "482 913" groups)
        if strength is None and cue.kind != CODE:
            qualifier = _QUALIFIER.match(text, cue.end)
            if qualifier is not None:
                sep = _SEP.match(text, qualifier.end())
                if sep is not None and sep.lastgroup in ("colon", "is"):
                    pos, strength = sep.end(), sep.lastgroup
        if strength is None and pos == cue.end and cue.kind != CODE and cue.end < len(text):
            if text[cue.end] in _QUOTES and cue.start and text[cue.start - 1] in _QUOTES:
                continue  # 'the "password" field'
        span = _value(text, pos, strength, cue.kind)
        if span is not None:
            found.append(Secret(span[0], span[1], cue.kind))
            covered = span[1]
    return found


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_date(groups: Sequence[str]) -> bool:
    if len(groups) == 1 and len(groups[0]) == 8:
        year, month, day = int(groups[0][:4]), int(groups[0][4:6]), int(groups[0][6:])
    elif [len(g) for g in groups] == [4, 2, 2]:
        year, month, day = int(groups[0]), int(groups[1]), int(groups[2])
    elif [len(g) for g in groups] == [2, 2, 4]:
        year, month, day = int(groups[2]), min(int(groups[0]), int(groups[1])), max(int(groups[0]), int(groups[1]))
    else:
        return False
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


def _glued(text: str, start: int, end: int) -> bool:
    """Whether the digits at start:end belong to something else: ALM-000123, 5.7.1, 10:30, 482913@qq.com."""
    n = len(text)
    prev = text[start - 1] if start else ""
    before = text[start - 2] if start >= 2 else ""
    if prev:
        if _is_letter(prev) or prev == "_" or _is_digit(prev) or prev in "#+*@$%/\\\u00a5\uffe5\u20ac\u00a3":
            return True
        if prev in ".,:" and before and _is_digit(before):
            return True
        if prev == "-" and before and _is_alnum(before):
            return not (before in "Gg" and (start < 3 or not _is_alnum(text[start - 3])))
        if prev in _CHAIN_SEPS and before and _is_digit(before):
            return True  # the tail of a longer run of numbers
    if end < n:
        nxt = text[end]
        after = text[end + 1] if end + 1 < n else ""
        if _is_letter(nxt) or nxt in "_@%" or _is_digit(nxt):
            return True
        if nxt in ".:/-" and after and (_is_alnum(after) or _is_digit(after)):
            return True  # 1.5, 163.com, 10:30, 11/20
        if nxt == "," and after and _is_digit(after):
            return True  # 100,000
        if nxt in _CHAIN_SEPS and after and _is_digit(after):
            return True
    return False


def _digit_secrets(text: str, cues: Sequence[_Cue]) -> List[Secret]:
    found: List[Secret] = []
    code_ends = [c.end for c in cues if c.kind == CODE]
    context = [c for c in cues if c.context]
    context_starts = [c.start for c in context]
    context_ends = [c.end for c in context]
    lo, hi = 0, len(text)
    while lo < hi and text[lo] in _TRIM:
        lo += 1
    while hi > lo and text[hi - 1] in _TRIM:
        hi -= 1
    for match in _CHAIN.finditer(text):
        start, end = match.span()
        if end - start < 4 or _glued(text, start, end):
            continue
        chunks = _CHAIN_SPLIT.split(match.group())
        while len(chunks) > 1 and len(chunks[0]) == 1:  # "step 3 482913": the 3 is not part of it
            start += 2
            chunks.pop(0)
        while len(chunks) > 1 and len(chunks[-1]) == 1:
            end -= 2
            chunks.pop()
        groups = [_ascii_digits(chunk) for chunk in chunks]
        digits = "".join(groups)
        sizes = tuple(len(g) for g in groups)
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and _luhn(digits):
            if len(groups) == 1 or all(3 <= size <= 6 for size in sizes):
                found.append(Secret(start, end, CARD))
            continue
        if not 4 <= len(digits) <= 10:
            continue
        if _is_direct(text, start, code_ends):
            if start >= 2 and text[start - 1] == "-":
                start -= 2  # G-482913
            found.append(Secret(start, end, CODE))
            continue
        if (len(groups) == 1 and len(digits) == 4 and 1900 <= int(digits) <= 2099) or _is_date(groups):
            continue
        whole = start == lo and end == hi
        bare_six = sizes in ((6,), (3, 3), (2, 2, 2))
        shaped = len(groups) == 1 or (sizes in _EQUAL_GROUPS)
        if not (whole or bare_six or (shaped and _near_cue(text, start, end, context_starts, context_ends))):
            continue
        if _UNIT.match(text, end) or _NOT_CODE_BEFORE.search(text, max(0, start - 24), start):
            continue
        found.append(Secret(start, end, CODE))
    return found


def _is_direct(text: str, start: int, code_ends: Sequence[int]) -> bool:
    """ "code: 482913", "验证码是 482 913", "G-482913": the number right after a code cue."""
    if start >= 2 and text[start - 1] == "-" and text[start - 2] in "Gg":
        return True
    i = bisect.bisect_right(code_ends, start) - 1
    if i < 0 or start - code_ends[i] > _DIRECT_GAP:
        return False
    sep = _SEP.match(text, code_ends[i])
    return sep is not None and sep.end() == start


def _near_cue(text: str, start: int, end: int, starts: Sequence[int], ends: Sequence[int]) -> bool:
    """A code cue in the same sentence, just before or just after."""
    i = bisect.bisect_right(ends, start) - 1
    if i >= 0 and start - ends[i] <= _WINDOW_BEFORE and not _BREAK.search(text[ends[i] : start]):
        return True
    j = bisect.bisect_left(starts, end)
    return j < len(starts) and starts[j] - end <= _WINDOW_AFTER and not _BREAK.search(text[end : starts[j]])


def _app_password_secrets(text: str) -> List[Secret]:
    found: List[Secret] = []
    n = len(text)
    for match in _APP_FOUR.finditer(text):
        start, end = match.span(1)
        sep = match.group(2)
        candidate = match.group(1)
        if candidate[4] != sep or candidate[9] != sep or candidate[14] != sep:
            continue
        if end < n and (_is_alnum(text[end]) or _FIFTH.match(text, end)):
            continue  # a fifth group: words of a sentence
        groups = candidate.split(sep)
        if not (candidate.islower() or candidate.isupper()):
            continue
        if sum(1 for g in groups if g.lower() in _COMMON_FOUR) >= 2:
            continue
        if sep == " " and not _APP_CONTEXT.search(text, max(0, start - _WINDOW_BEFORE), start):
            continue
        found.append(Secret(start, end, APP_PASSWORD))
    for match in _APP_SIXTEEN.finditer(text):
        start, end = match.span(1)
        word = match.group(1)
        vowels = sum(1 for ch in word.lower() if ch in "aeiou")
        if (word.islower() or word.isupper()) and vowels <= 5:
            if _APP_CONTEXT.search(text, max(0, start - _WINDOW_BEFORE), start):
                found.append(Secret(start, end, APP_PASSWORD))
    return found


def _high_entropy(segment: str) -> bool:
    """A long random-looking string: mixed classes, changing often (not a file name or a word)."""
    piece = max(_PIECE.split(segment), key=len)[:256]  # judged on its start: linear however long
    if len(piece) < 20:
        return False
    upper = sum(1 for ch in piece if "A" <= ch <= "Z")
    lower = sum(1 for ch in piece if "a" <= ch <= "z")
    digits = sum(1 for ch in piece if "0" <= ch <= "9")
    if digits < 2 or upper + lower < 2 or not ((upper and lower) or len(piece) >= 32):
        return False
    changes = sum(1 for a, b in zip(piece, piece[1:]) if _char_class(a) != _char_class(b))
    return changes * 4 >= len(piece)


def _char_class(ch: str) -> int:
    return 0 if "0" <= ch <= "9" else 1 if "a" <= ch <= "z" else 2


def _token_secrets(text: str) -> List[Secret]:
    found: List[Secret] = []
    for match in _RUN.finditer(text):
        run = match.group().rstrip(".")
        start = match.start()
        if len(run) < 16:
            continue
        if (run.startswith("eyJ") and run.count(".") >= 2) or (_KNOWN_TOKEN.match(run) and len(run) >= 20):
            found.append(Secret(start, start + len(run), TOKEN))
            continue
        offset = 0
        for segment in run.split("."):
            if len(segment) >= 20 and _high_entropy(segment) and not _UUID_HEX.fullmatch(segment):
                found.append(Secret(start + offset, start + offset + len(segment), TOKEN))
            offset += len(segment) + 1
    return found


def _shape_secrets(text: str) -> List[Secret]:
    """A strong password on its own: upper and lower case, a digit and a symbol (P@ssw0rd9)."""
    found: List[Secret] = []
    n = len(text)
    for match in _SHAPE.finditer(text):
        start, end = match.span()
        if (start and _IS_SHAPE_CHAR.match(text, start - 1)) or (end < n and _IS_SHAPE_CHAR.match(text, end)):
            continue
        word = match.group()
        bare = _strip(word)
        key = _KEY.match(bare)
        if key is not None:  # "mypassword=Tr0ub4dor": the key stays
            bare = bare[key.end() :]
        if len(bare) < 8 or not _STRONG.match(bare) or "://" in bare or bare.lower().startswith("www."):
            continue
        if "@" in bare and _EMAIL.search(bare):
            continue
        left = start + len(word) - len(word.lstrip(_STRIP_LEFT)) + (key.end() if key is not None else 0)
        found.append(Secret(left, left + len(bare), PASSWORD))
    return found


def _merge(spans: List[Secret]) -> List[Secret]:
    merged: List[Secret] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Secret(last.start, max(last.end, span.end), last.kind)
        else:
            merged.append(span)
    return merged


# --- the API --------------------------------------------------------------------------------------
def find_secrets(text: str) -> List[Secret]:
    """The secrets in `text`, in order, overlapping ones merged. Linear time on any length (no cap)."""
    cues = _cues(text)
    spans = _cue_secrets(text, cues)
    spans += _digit_secrets(text, cues)
    spans += _app_password_secrets(text)
    spans += _token_secrets(text)
    spans += _shape_secrets(text)
    return _merge(spans)


def cap(text: str) -> str:
    """`text` cut to MAX_MESSAGE_CHARS, without a piece of a cut word, and TRUNCATED after it."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    head = text[:MAX_MESSAGE_CHARS]
    if text[MAX_MESSAGE_CHARS] not in " \t\r\n":
        cut = max(head.rfind(ch) for ch in " \t\r\n")
        if cut >= MAX_MESSAGE_CHARS - 200:
            head = head[:cut]
        else:
            head = head[: MAX_MESSAGE_CHARS - 200]
    return head.rstrip(" \t\r\n") + " " + TRUNCATED


def mask_secrets(text: str) -> str:
    """`text` with every secret replaced by MASK; longer texts are first cut (`cap`)."""
    text = cap(text)
    parts: List[str] = []
    last = 0
    for secret in find_secrets(text):
        parts.append(text[last : secret.start])
        parts.append(MASK)
        last = secret.end
    parts.append(text[last:])
    return "".join(parts)
