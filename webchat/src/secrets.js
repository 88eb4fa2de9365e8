/*
 * What counts as a secret in a chat message, and hiding it: the browser's copy of core/secrets.py.
 *
 * The same rules, function by function, so that the widget can keep what it stores free of the
 * passwords and codes people paste ("my password is Hunter2! and it stopped working",
 * "验证码是482913，登录不了"). tests/secrets_corpus.yml is the truth for both copies; pytest runs
 * it here through Node (webchat/test/secrets.test.mjs) and checks that both give the same output.
 * Change a rule in both files.
 *
 * Load it with a plain <script src=".../secrets.js"> (it defines window.AlimailSecrets) or
 * require it in Node. API: maskSecrets(text), findSecrets(text) -> [{start, end, kind}], cap(text),
 * MASK, TRUNCATED, MAX_MESSAGE_CHARS. Offsets are UTF-16 code units (Python counts code points).
 *
 * Time: every pattern is linear (bounded repetitions, no nested quantifiers over overlapping
 * classes, no look-behind); findSecrets is tested on 200,000-character adversarial texts.
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.AlimailSecrets = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  var MASK = "[hidden]";
  var TRUNCATED = "[truncated]";
  var MAX_MESSAGE_CHARS = 10000;
  var PASSWORD = "password", CODE = "code", APP_PASSWORD = "app_password", TOKEN = "token", CARD = "card";

  function words(list) {
    var set = Object.create(null);
    list.trim().split(/\s+/).forEach(function (w) { set[w] = true; });
    return set;
  }
  function chars(list) {
    var set = Object.create(null);
    for (var i = 0; i < list.length; i++) set[list[i]] = true;
    return set;
  }

  // --- cue words ------------------------------------------------------------------------------
  var CUE = new RegExp(
    "(?=[pPoO2mMtTcCaAsSvV密口授令验动校短确安激登随])" +
    "(?:(?:passphrase|passcode|password|passwd|pasword|passwrd|passowrd|passwort|pass|pwd|pw|pin码|pin" +
    "|otp|2fa|mfa|totp|codes|code" +
    "|api[ _-]?key|access[ _-]?key|secret[ _-]?key|client[ _-]?secret|access[ _-]?token|auth[ _-]?token|token" +
    "|verification|verify|sms|texted)(?![A-Za-z0-9_])" +
    "|密码|口令|授权码|密钥|令牌|验证码|动态码|校验码|短信码|确认码|安全码|激活码|登录码|随机码|短信|验证)",
    "gi"
  );
  var CUE_KINDS = Object.create(null);
  function cueKinds(list, kind, context) {
    list.split(" ").forEach(function (w) { CUE_KINDS[w] = [kind, context]; });
  }
  cueKinds("passphrase password passwd pasword passwrd passowrd passwort", PASSWORD, false);
  cueKinds("pass pwd pw 密码 口令 授权码", PASSWORD, false);
  cueKinds("passcode pin pin码", PASSWORD, true);
  cueKinds("otp 2fa mfa totp codes code", CODE, true);
  cueKinds("验证码 动态码 校验码 短信码 确认码 安全码 激活码 登录码 随机码", CODE, true);
  cueKinds("apikey accesskey secretkey clientsecret accesstoken authtoken", TOKEN, false);
  cueKinds("token 密钥 令牌", TOKEN, false);
  cueKinds("verification verify sms texted 短信 验证", "", true);
  var LONG_CUES = words("passphrase passcode password passwd pasword passwrd passowrd passwort");
  var NOT_A_CODE_CUE = new RegExp(
    "(?:error|status|response|reply|smtp|bounce|return|exit|reason|diagnostic|dsn|zip|postal|post|area|country" +
    "|qr|bar|source|html|promo|promotion|discount|coupon|invite|invitation|referral|sap|transaction|vs" +
    "|错误|状态|邮政|邀请|优惠)[ \\t_-]{0,2}$",
    "i"
  );

  // --- what follows a cue ---------------------------------------------------------------------
  var SP = " \t\u00a0\u3000";
  var SEP = new RegExp(
    "[ \\t\\u00a0\\u3000]{0,3}(?:" +
    "(?<colon>(?:is|was)?[ \\t]{0,2}[:=\\uff1a\\uff1d])" +
    "|(?<is>(?:(?:is|was|are|were)(?:[ \\t]{1,3}(?:now|still|just|actually|currently|definitely|literally" +
    "|simply|probably|set[ \\t]{1,3}to|changed[ \\t]{1,3}to|reset[ \\t]{1,3}to))?" +
    "|should[ \\t]{1,3}be|used[ \\t]{1,3}to[ \\t]{1,3}be|(?:set|changed|reset|updated)[ \\t]{1,3}to" +
    "|['\\u2019]s)(?![A-Za-z0-9_])" +
    "|(?:就是|应该是|还是|改成了|改成|改为|设为|设成|设置为|设置成|换成了|换成|是|为)" +
    "(?:[ \\t\\u3000]{0,3}[:=\\uff1a\\uff1d])?)" +
    "|(?<to>to(?![A-Za-z0-9_]))" +
    ")?[ \\t\\u00a0\\u3000]{0,8}",
    "iy"
  );
  var QUALIFIER = new RegExp(
    "[ \\t]{1,3}(?:for|of|on|in|at)(?:[ \\t]{1,3}[^ \\t\\r\\n:=\\uff1a]{1,40}){1,3}?" +
    "(?=[ \\t]{0,3}(?:(?:is|was)(?![A-Za-z0-9_])|[:=\\uff1a]))",
    "iy"
  );
  var VALUE_CHARS = "\\x21-\\x7e\\uff10-\\uff19\\uff21-\\uff3a\\uff41-\\uff5a";
  var WORD = new RegExp("[" + VALUE_CHARS + "]{1,128}", "y");
  var NEXT_WORD = new RegExp("[ \\t]{1,2}([" + VALUE_CHARS + "]{1,128})", "y");
  var IS_VALUE_CHAR = new RegExp("^[" + VALUE_CHARS + "]$");
  var QUOTES = { "\"": "\"", "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "\u300c": "\u300d",
    "\u300e": "\u300f", "\uff02": "\uff02" };
  var MAX_QUOTED = 100, MAX_WORDS = 6, MAX_VALUE = 100;
  var STRIP_LEFT = chars("([{<\"'`\u201c\u2018\u300c");
  var STRIP_RIGHT = chars(")]}>\"'`.,;:!?\u2026\u201d\u2019\u300d");
  var CLAUSE_END = chars(".,;!?");
  var FUNCTION_WORDS = words(
    "a an the my your his her its our their this that these those it i me you he she we they them us mine yours " +
    "is was are were be been being am not no never none nothing n/a na null nil empty blank unknown " +
    "and or but so because cause cuz coz since then than though although if when while until after before as also " +
    "too for from with without by about into onto of on in at to up down out over under again via per " +
    "still now just already yet only even ever really very quite definitely probably maybe actually apparently " +
    "literally simply exactly currently basically supposed supposedly usually always sometimes " +
    "what which who whom whose how why where here there " +
    "please pls plz thanks thank thx ty help sorry hi hello hey lol idk " +
    "something anything everything all any some more less most least every each other another one " +
    "can cant can't cannot could couldn't couldnt will won't wont would wouldn't wouldnt should shouldn't " +
    "shouldnt must may might do does did don't dont doesn't doesnt didn't didnt isn't isnt wasn't wasnt aren't " +
    "arent weren't werent has have had hasn't hasnt haven't havent hadn't i'm im i've ive i'd it's that's thats " +
    "like such hidden email phone truncated 2fa 2sv mfa otp sms 2-step two-step two-factor"
  );
  var STATE_WORDS = words(
    "correct incorrect wrong right invalid valid ok okay fine good bad same different new old weak strong long " +
    "short simple complex secure safe unsafe expired expiring expires locked blocked disabled rejected denied " +
    "refused forgotten forgot lost gone changed reset required needed missing working broken compromised leaked " +
    "stolen hacked saved stored remembered set sent accepted case sensitive character characters chars digits " +
    "digit letters numbers symbols length recovery policy manager field box prompt page link mail account " +
    "login log sign change update expiry expiration requirement requirements rules rule weird strange unchanged " +
    "known temporary default initial complicated easy hard difficult random unique personal private shared " +
    "identical similar mandatory optional outdated current previous latest first second last"
  );
  function notSecret(lower) { return FUNCTION_WORDS[lower] === true || STATE_WORDS[lower] === true; }
  var CODE_WORD = /^(?:[0-9\uff10-\uff19]{4,10}|[A-Za-z0-9]{4,12}|[Gg]-[0-9]{6})$/;
  var SYMBOL = /[!@#$%^&*+=?~]/;
  var ALNUM = /[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]/;
  var EMAIL_SOURCE = "[^@ \\t\\r\\n]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}";
  var EMAIL_FULL = new RegExp("^(?:" + EMAIL_SOURCE + ")$");
  var EMAIL_ANY = new RegExp(EMAIL_SOURCE);
  var ED_ING_LY = /^[a-z]{2,}(?:ed|ing|ly)$/;

  // --- digits -----------------------------------------------------------------------------------
  var CHAIN = /[0-9\uff10-\uff19]{1,20}(?:[ \-\u3000][0-9\uff10-\uff19]{1,20}){0,7}/g;
  var CHAIN_SEPS = chars(" -\u3000");
  var CHAIN_SPLIT = /[ \-\u3000]/;
  var UNIT = new RegExp(
    "[ \\t]{0,2}(?:(?:mb|kb|gb|tb|bytes?|ms|secs?|seconds?|mins?|minutes?|hrs?|hours?|days?|weeks?|months?|years?" +
    "|yrs?|times|e?-?mails?|messages?|msgs?|users?|accounts?|people|persons|recipients?|attempts?|tries" +
    "|characters?|chars?|digits?|letters?|words?|px|percent|items?|files?|pages?|lines?|rmb|yuan|usd|dollars?" +
    "|euros?|am|pm)(?![A-Za-z])|%" +
    "|[封个次人条秒分小天年月日号位元块字兆毫遍点岁周项页行台张份])",
    "iy"
  );
  var NOT_CODE_BEFORE = new RegExp(
    "(?:(?:^|[^A-Za-z])(?:ticket|case|order|invoice|ref|reference|id|qq|uid|phone|tel|telephone|mobile|cell|call" +
    "|dial|hotline|fax|ext|extension|port|version|ver|build|room|floor|step|error|err|status|smtp|http|postal" +
    "|zip|employee|staff|ending[ \\t]in|ends[ \\t]in|ending[ \\t]with)(?:[ \\t]{0,2}(?:code|number|no\\.?|id))?" +
    "(?:[ \\t]{1,2}(?:is|was))?" +
    "|工单号|工单|单号|编号|订单号|订单|账号|帐号|工号|电话|手机号|手机|热线|拨打|致电" +
    "|尾号|错误码|错误代码|错误|分机|邮编|端口|版本|第)[ \\t:\\uff1a#.号是为]{0,3}$",
    "i"
  );
  var BREAK = /[\n!?\u3002\uff01\uff1f]|\.(?:[ \t]|$)/;
  var WINDOW_BEFORE = 48, WINDOW_AFTER = 24, DIRECT_GAP = 20;
  var EQUAL_GROUPS = words("3,3 2,2,2 4,4 2,2,2,2 3,3,3");
  var BARE_SIX = words("6 3,3 2,2,2");
  var TRIM = chars(" \t\r\n.!?\u3002\uff01\uff1f");

  // --- app passwords, tokens, strong passwords standing alone ------------------------------------
  var APP_FOUR = /(?:^|[^A-Za-z0-9])(?=([A-Za-z]{4}([ -])[A-Za-z]{4}[ -][A-Za-z]{4}[ -][A-Za-z]{4}))/g;
  var FIFTH = /[ -][A-Za-z]{4}(?![A-Za-z0-9])/y;
  var APP_SIXTEEN = /(?:^|[^A-Za-z0-9])([A-Za-z]{16})(?![A-Za-z0-9])/g;
  var APP_CONTEXT = new RegExp(
    "password|passwd|pwd|app|application|imap|smtp|pop3?|client|outlook|thunderbird|foxmail" +
    "|授权码|专用密码|客户端|密码",
    "i"
  );
  var COMMON_FOUR = words(
    "that with have this will your from they know want been good much some time very when come here just like long " +
    "make many more only over such take than them well were what mail used send sent code work does didn need said " +
    "each then into also back even most able about next last user help they them same does done gone open read " +
    "left line list link lost name note once page part plus real rest room seem show side sign site sort step stop " +
    "sure tell test text that told took turn type unit upon view wait week went what whom wish word year yeah " +
    "again also away best both call came case city cold cost date days dear door down draw drop easy else ever face " +
    "fact fail fair fall fast feel file fill find fine fire firm five flag form four free full gave give goes hand " +
    "hard head hear held hold home hope hour idea into item keep kept kind knew land late less life look made mean " +
    "meet mind miss move must near nice none okay only over paid pass past pick plan play post pull push rate says " +
    "save seen self sell sets ship shop sure talk team than that thus till true upon user vote walk wall week wide " +
    "wife wind wise with wont word yours this mine these ours"
  );
  var RUN = /[A-Za-z0-9_.\-]{16,}/g;
  var PIECE = /[_\-]/;
  var KNOWN_TOKEN = new RegExp(
    "^(?:(?:xox[abposr]-|sk-|sk_live_|sk_test_|rk_live_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|ya29\\.)" +
    "[A-Za-z0-9_.\\-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_\\-]{30,})"
  );
  var UUID_HEX = /^[0-9a-f]{12}[1-8][0-9a-f]{3}[89ab][0-9a-f]{15}$/;
  var SHAPE = /[\x21-\x7e]{8,64}/g;
  var STRONG = /^(?=[^A-Z]{0,63}[A-Z])(?=[^a-z]{0,63}[a-z])(?=[^0-9]{0,63}[0-9])(?=[^!@#$%^&*+=?~]{0,63}[!@#$%^&*+=?~])/;
  var KEY = /^[A-Za-z_]{1,30}[=:]/;
  var IS_SHAPE_CHAR = /^[\x21-\x7e]$/;

  // --- helpers ----------------------------------------------------------------------------------
  var ALNUM_CHARS = chars("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
  var DIGIT_CHARS = chars("0123456789\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19");
  function isAlnum(ch) { return ALNUM_CHARS[ch] === true; }
  function isLetter(ch) { return (ch >= "a" && ch <= "z") || (ch >= "A" && ch <= "Z"); }
  function isDigit(ch) { return DIGIT_CHARS[ch] === true; }
  function asciiDigits(digits) {
    return digits.replace(/[\uff10-\uff19]/g, function (d) { return String.fromCharCode(d.charCodeAt(0) - 0xfee0); });
  }
  function stripChars(text, set) {
    var a = 0, b = text.length;
    while (a < b && set.indexOf(text[a]) >= 0) a++;
    while (b > a && set.indexOf(text[b - 1]) >= 0) b--;
    return text.slice(a, b);
  }
  function strip(word) {
    var a = 0, b = word.length;
    while (a < b && STRIP_LEFT[word[a]]) a++;
    while (b > a && STRIP_RIGHT[word[b - 1]]) b--;
    return word.slice(a, b);
  }
  function squash(word) {
    word = word.toLowerCase();
    return CUE_KINDS[word] ? word : word.replace(/[ _-]/g, "");
  }
  function isCueWord(word) { return CUE_KINDS[squash(word)] !== undefined; }
  function matchAt(re, text, pos) { re.lastIndex = pos; return re.exec(text); }
  function countDigits(word) {
    var n = 0;
    for (var i = 0; i < word.length; i++) if (DIGIT_CHARS[word[i]]) n++;
    return n;
  }
  function bisectRight(list, value) {
    var lo = 0, hi = list.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (value < list[mid]) hi = mid; else lo = mid + 1; }
    return lo;
  }
  function bisectLeft(list, value) {
    var lo = 0, hi = list.length;
    while (lo < hi) { var mid = (lo + hi) >> 1; if (list[mid] < value) lo = mid + 1; else hi = mid; }
    return lo;
  }

  function secretLike(word) {
    if (EMAIL_FULL.test(word)) return false;
    var digits = countDigits(word);
    return digits >= 4 || (digits >= 1 && word.length >= 4) || SYMBOL.test(word);
  }

  function acceptFirst(word, strength, kind) {
    var bare = strip(word);
    var lower = bare.toLowerCase();
    if (notSecret(lower) || isCueWord(bare) || !ALNUM.test(bare) || (bare.indexOf("@") >= 0 && EMAIL_FULL.test(bare))) {
      return false;
    }
    if (kind === CODE) {
      if (!CODE_WORD.test(bare)) return false;
      var digits = countDigits(bare);
      return digits === bare.length || digits >= 2;
    }
    if (bare.length <= 3 && countDigits(bare) === bare.length) return false;
    if (strength === "colon") return true;
    if (strength === "is") return !ED_ING_LY.test(lower);
    return secretLike(bare);
  }

  function mayStartPassphrase(word) {
    var lower = strip(word).toLowerCase();
    return !CLAUSE_END[word[word.length - 1]] && (STATE_WORDS[lower] === true || ED_ING_LY.test(lower));
  }

  function acceptQuoted(inner, strength, kind) {
    var bare = strip(stripChars(inner, SP));
    if (!bare || notSecret(bare.toLowerCase()) || isCueWord(bare)) return false;
    if (kind === CODE) return acceptFirst(bare, strength, kind);
    return strength === "colon" || strength === "is" || secretLike(bare);
  }

  function stops(word) {
    var bare = strip(word);
    return !bare || notSecret(bare.toLowerCase()) || isCueWord(bare) || bare.indexOf(":") >= 0 ||
      bare.indexOf("=") >= 0 || word.indexOf("\uff1a") >= 0;
  }

  function value(text, pos, strength, kind) {
    var n = text.length;
    if (pos >= n) return null;
    var closer = QUOTES[text[pos]];
    if (closer !== undefined) {
      var k = text.slice(pos + 1, pos + 1 + MAX_QUOTED).indexOf(closer);
      var close = k < 0 ? -1 : pos + 1 + k;
      var inner = close > pos + 1 ? text.slice(pos + 1, close) : "";
      if (stripChars(inner, SP) && inner.indexOf("\n") < 0) {
        return acceptQuoted(inner, strength, kind) ? [pos + 1, close] : null;
      }
      pos += 1;
    }
    var match = matchAt(WORD, text, pos);
    if (match === null) return null;
    var end = pos + match[0].length;
    if (end < n && IS_VALUE_CHAR.test(text[end])) return null;
    var passphraseOnly = false;
    var long = kind === PASSWORD && (strength === "colon" || strength === "is");
    if (!acceptFirst(match[0], strength, kind)) {
      if (!long || !mayStartPassphrase(match[0])) return null;
      passphraseOnly = true;
    }
    var start = pos;
    if (!long) return [start, end];
    var count = 1;
    while (count < MAX_WORDS && !CLAUSE_END[text[end - 1]]) {
      var following = matchAt(NEXT_WORD, text, end);
      if (following === null) break;
      var followingEnd = end + following[0].length;
      if (followingEnd < n && IS_VALUE_CHAR.test(text[followingEnd])) break;
      if (stops(following[1]) || followingEnd - start > MAX_VALUE) break;
      end = followingEnd;
      count += 1;
    }
    if (passphraseOnly && count < 3) return null;
    return [start, end];
  }

  function strengthOf(match) {
    var g = match.groups;
    if (g.colon !== undefined) return "colon";
    if (g.is !== undefined) return "is";
    if (g.to !== undefined) return "to";
    return null;
  }

  function findCues(text) {
    var cues = [];
    var match;
    CUE.lastIndex = 0;
    while ((match = CUE.exec(text)) !== null) {
      var word = squash(match[0]);
      var start = match.index;
      if (start && ALNUM_CHARS[text[start - 1]] && !LONG_CUES[word] && word.charCodeAt(0) < 128) continue;
      var info = CUE_KINDS[word];
      if ((word === "code" || word === "codes") && NOT_A_CODE_CUE.test(text.slice(Math.max(0, start - 16), start))) {
        continue;
      }
      cues.push({ start: start, end: start + match[0].length, kind: info[0], context: info[1] });
    }
    return cues;
  }

  function cueSecrets(text, cues) {
    var found = [];
    var covered = 0;
    for (var i = 0; i < cues.length; i++) {
      var cue = cues[i];
      if (!cue.kind || cue.start < covered) continue;
      var pos = cue.end, strength = null;
      var sep = matchAt(SEP, text, pos);
      if (sep !== null) {
        strength = strengthOf(sep);
        pos = cue.end + sep[0].length;
      }
      if (i + 1 < cues.length && cues[i + 1].start === pos) continue;
      if (cue.kind === CODE && pos < text.length && DIGIT_CHARS[text[pos]]) continue;
      if (strength === null && cue.kind !== CODE) {
        var qualifier = matchAt(QUALIFIER, text, cue.end);
        if (qualifier !== null) {
          var after = cue.end + qualifier[0].length;
          var sep2 = matchAt(SEP, text, after);
          if (sep2 !== null) {
            var s2 = strengthOf(sep2);
            if (s2 === "colon" || s2 === "is") {
              pos = after + sep2[0].length;
              strength = s2;
            }
          }
        }
      }
      if (strength === null && pos === cue.end && cue.kind !== CODE && cue.end < text.length) {
        if (QUOTES[text[cue.end]] !== undefined && cue.start && QUOTES[text[cue.start - 1]] !== undefined) continue;
      }
      var span = value(text, pos, strength, cue.kind);
      if (span !== null) {
        found.push({ start: span[0], end: span[1], kind: cue.kind });
        covered = span[1];
      }
    }
    return found;
  }

  function luhn(digits) {
    var total = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = digits.charCodeAt(digits.length - 1 - i) - 48;
      if (i % 2) d = d > 4 ? d * 2 - 9 : d * 2;
      total += d;
    }
    return total % 10 === 0;
  }

  function isDate(groups) {
    var sizes = groups.map(function (g) { return g.length; }).join(",");
    var year, month, day;
    if (groups.length === 1 && groups[0].length === 8) {
      year = parseInt(groups[0].slice(0, 4), 10);
      month = parseInt(groups[0].slice(4, 6), 10);
      day = parseInt(groups[0].slice(6), 10);
    } else if (sizes === "4,2,2") {
      year = parseInt(groups[0], 10); month = parseInt(groups[1], 10); day = parseInt(groups[2], 10);
    } else if (sizes === "2,2,4") {
      var a = parseInt(groups[0], 10), b = parseInt(groups[1], 10);
      year = parseInt(groups[2], 10); month = Math.min(a, b); day = Math.max(a, b);
    } else {
      return false;
    }
    return year >= 1900 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }

  function glued(text, start, end) {
    var n = text.length;
    var prev = start ? text[start - 1] : "";
    var before = start >= 2 ? text[start - 2] : "";
    if (prev) {
      if (isLetter(prev) || prev === "_" || isDigit(prev) || "#+*@$%/\\\u00a5\uffe5\u20ac\u00a3".indexOf(prev) >= 0) {
        return true;
      }
      if (".,:".indexOf(prev) >= 0 && before && isDigit(before)) return true;
      if (prev === "-" && before && isAlnum(before)) {
        return !("Gg".indexOf(before) >= 0 && (start < 3 || !isAlnum(text[start - 3])));
      }
      if (CHAIN_SEPS[prev] && before && isDigit(before)) return true;
    }
    if (end < n) {
      var nxt = text[end];
      var after = end + 1 < n ? text[end + 1] : "";
      if (isLetter(nxt) || "_@%".indexOf(nxt) >= 0 || isDigit(nxt)) return true;
      if (".:/-".indexOf(nxt) >= 0 && after && (isAlnum(after) || isDigit(after))) return true;
      if (nxt === "," && after && isDigit(after)) return true;
      if (CHAIN_SEPS[nxt] && after && isDigit(after)) return true;
    }
    return false;
  }

  function isDirect(text, start, codeEnds) {
    if (start >= 2 && text[start - 1] === "-" && "Gg".indexOf(text[start - 2]) >= 0) return true;
    var i = bisectRight(codeEnds, start) - 1;
    if (i < 0 || start - codeEnds[i] > DIRECT_GAP) return false;
    var sep = matchAt(SEP, text, codeEnds[i]);
    return sep !== null && codeEnds[i] + sep[0].length === start;
  }

  function nearCue(text, start, end, starts, ends) {
    var i = bisectRight(ends, start) - 1;
    if (i >= 0 && start - ends[i] <= WINDOW_BEFORE && !BREAK.test(text.slice(ends[i], start))) return true;
    var j = bisectLeft(starts, end);
    return j < starts.length && starts[j] - end <= WINDOW_AFTER && !BREAK.test(text.slice(end, starts[j]));
  }

  function digitSecrets(text, cues) {
    var found = [];
    var codeEnds = [], contextStarts = [], contextEnds = [];
    cues.forEach(function (c) {
      if (c.kind === CODE) codeEnds.push(c.end);
      if (c.context) { contextStarts.push(c.start); contextEnds.push(c.end); }
    });
    var lo = 0, hi = text.length;
    while (lo < hi && TRIM[text[lo]]) lo++;
    while (hi > lo && TRIM[text[hi - 1]]) hi--;
    var match;
    CHAIN.lastIndex = 0;
    while ((match = CHAIN.exec(text)) !== null) {
      var start = match.index, end = start + match[0].length;
      if (end - start < 4 || glued(text, start, end)) continue;
      var chunks = match[0].split(CHAIN_SPLIT);
      while (chunks.length > 1 && chunks[0].length === 1) { start += 2; chunks.shift(); }
      while (chunks.length > 1 && chunks[chunks.length - 1].length === 1) { end -= 2; chunks.pop(); }
      var groups = chunks.map(asciiDigits);
      var digits = groups.join("");
      var sizes = groups.map(function (g) { return g.length; });
      var sizeKey = sizes.join(",");
      if (digits.length >= 13 && digits.length <= 19 && "23456".indexOf(digits[0]) >= 0 && luhn(digits)) {
        if (groups.length === 1 || sizes.every(function (s) { return s >= 3 && s <= 6; })) {
          found.push({ start: start, end: end, kind: CARD });
        }
        continue;
      }
      if (digits.length < 4 || digits.length > 10) continue;
      if (isDirect(text, start, codeEnds)) {
        if (start >= 2 && text[start - 1] === "-") start -= 2;
        found.push({ start: start, end: end, kind: CODE });
        continue;
      }
      var year = parseInt(digits, 10);
      if ((groups.length === 1 && digits.length === 4 && year >= 1900 && year <= 2099) || isDate(groups)) continue;
      var whole = start === lo && end === hi;
      var shaped = groups.length === 1 || EQUAL_GROUPS[sizeKey] === true;
      if (!(whole || BARE_SIX[sizeKey] === true || (shaped && nearCue(text, start, end, contextStarts, contextEnds)))) {
        continue;
      }
      if (matchAt(UNIT, text, end) !== null || NOT_CODE_BEFORE.test(text.slice(Math.max(0, start - 24), start))) {
        continue;
      }
      found.push({ start: start, end: end, kind: CODE });
    }
    return found;
  }

  function isOneCase(word) { return word === word.toLowerCase() || word === word.toUpperCase(); }

  function appPasswordSecrets(text) {
    var found = [];
    var n = text.length;
    var match;
    APP_FOUR.lastIndex = 0;
    while ((match = APP_FOUR.exec(text)) !== null) {
      if (match[0].length === 0) APP_FOUR.lastIndex++;
      var candidate = match[1], sep = match[2];
      var start = match.index + match[0].length, end = start + candidate.length;
      if (candidate[4] !== sep || candidate[9] !== sep || candidate[14] !== sep) continue;
      if (end < n && (isAlnum(text[end]) || matchAt(FIFTH, text, end) !== null)) continue;
      if (!isOneCase(candidate)) continue;
      var common = candidate.split(sep).filter(function (g) { return COMMON_FOUR[g.toLowerCase()] === true; });
      if (common.length >= 2) continue;
      if (sep === " " && !APP_CONTEXT.test(text.slice(Math.max(0, start - WINDOW_BEFORE), start))) continue;
      found.push({ start: start, end: end, kind: APP_PASSWORD });
    }
    APP_SIXTEEN.lastIndex = 0;
    while ((match = APP_SIXTEEN.exec(text)) !== null) {
      var word = match[1];
      var wordStart = match.index + match[0].length - 16;
      var vowels = word.toLowerCase().replace(/[^aeiou]/g, "").length;
      if (isOneCase(word) && vowels <= 5 &&
          APP_CONTEXT.test(text.slice(Math.max(0, wordStart - WINDOW_BEFORE), wordStart))) {
        found.push({ start: wordStart, end: wordStart + 16, kind: APP_PASSWORD });
      }
    }
    return found;
  }

  function charClass(ch) { return ch >= "0" && ch <= "9" ? 0 : ch >= "a" && ch <= "z" ? 1 : 2; }

  function highEntropy(segment) {
    var piece = "";
    segment.split(PIECE).forEach(function (p) { if (p.length > piece.length) piece = p; });
    piece = piece.slice(0, 256);
    if (piece.length < 20) return false;
    var upper = 0, lower = 0, digits = 0, changes = 0;
    for (var i = 0; i < piece.length; i++) {
      var ch = piece[i];
      if (ch >= "A" && ch <= "Z") upper++;
      else if (ch >= "a" && ch <= "z") lower++;
      else if (ch >= "0" && ch <= "9") digits++;
      if (i && charClass(ch) !== charClass(piece[i - 1])) changes++;
    }
    if (digits < 2 || upper + lower < 2 || !((upper && lower) || piece.length >= 32)) return false;
    return changes * 4 >= piece.length;
  }

  function tokenSecrets(text) {
    var found = [];
    var match;
    RUN.lastIndex = 0;
    while ((match = RUN.exec(text)) !== null) {
      var run = match[0];
      while (run[run.length - 1] === ".") run = run.slice(0, -1);
      var start = match.index;
      if (run.length < 16) continue;
      if ((run.slice(0, 3) === "eyJ" && run.split(".").length >= 3) || (KNOWN_TOKEN.test(run) && run.length >= 20)) {
        found.push({ start: start, end: start + run.length, kind: TOKEN });
        continue;
      }
      var offset = 0;
      run.split(".").forEach(function (segment) {
        if (segment.length >= 20 && highEntropy(segment) && !UUID_HEX.test(segment)) {
          found.push({ start: start + offset, end: start + offset + segment.length, kind: TOKEN });
        }
        offset += segment.length + 1;
      });
    }
    return found;
  }

  function shapeSecrets(text) {
    var found = [];
    var n = text.length;
    var match;
    SHAPE.lastIndex = 0;
    while ((match = SHAPE.exec(text)) !== null) {
      var start = match.index, end = start + match[0].length;
      if ((start && IS_SHAPE_CHAR.test(text[start - 1])) || (end < n && IS_SHAPE_CHAR.test(text[end]))) continue;
      var word = match[0];
      var bare = strip(word);
      var key = KEY.exec(bare);
      var keyLength = key ? key[0].length : 0;
      bare = bare.slice(keyLength);
      if (bare.length < 8 || !STRONG.test(bare) || bare.indexOf("://") >= 0 || bare.toLowerCase().slice(0, 4) === "www.") {
        continue;
      }
      if (bare.indexOf("@") >= 0 && EMAIL_ANY.test(bare)) continue;
      var left = start + leftStripped(word) + keyLength;
      found.push({ start: left, end: left + bare.length, kind: PASSWORD });
    }
    return found;
  }

  function leftStripped(word) {
    var a = 0;
    while (a < word.length && STRIP_LEFT[word[a]]) a++;
    return a;
  }

  function merge(spans) {
    spans.sort(function (a, b) {
      return a.start - b.start || a.end - b.end || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
    });
    var merged = [];
    spans.forEach(function (span) {
      var last = merged[merged.length - 1];
      if (last && span.start <= last.end) last.end = Math.max(last.end, span.end);
      else merged.push({ start: span.start, end: span.end, kind: span.kind });
    });
    return merged;
  }

  // --- the API ------------------------------------------------------------------------------------
  /** The secrets in `text`, in order, overlapping ones merged: [{start, end, kind}]. Linear, no cap. */
  function findSecrets(text) {
    text = text == null ? "" : String(text);
    var cues = findCues(text);
    var spans = cueSecrets(text, cues)
      .concat(digitSecrets(text, cues))
      .concat(appPasswordSecrets(text))
      .concat(tokenSecrets(text))
      .concat(shapeSecrets(text));
    return merge(spans);
  }

  /** `text` cut to MAX_MESSAGE_CHARS, without a piece of a cut word, and TRUNCATED after it. */
  function cap(text) {
    text = text == null ? "" : String(text);
    if (text.length <= MAX_MESSAGE_CHARS) return text;
    var head = text.slice(0, MAX_MESSAGE_CHARS);
    if (" \t\r\n".indexOf(text[MAX_MESSAGE_CHARS]) < 0) {
      var cut = Math.max(head.lastIndexOf(" "), head.lastIndexOf("\t"), head.lastIndexOf("\r"), head.lastIndexOf("\n"));
      head = cut >= MAX_MESSAGE_CHARS - 200 ? head.slice(0, cut) : head.slice(0, MAX_MESSAGE_CHARS - 200);
    }
    var b = head.length;
    while (b > 0 && " \t\r\n".indexOf(head[b - 1]) >= 0) b--;
    return head.slice(0, b) + " " + TRUNCATED;
  }

  /** `text` with every secret replaced by MASK; longer texts are first cut (`cap`). */
  function maskSecrets(text) {
    text = cap(text);
    var parts = [];
    var last = 0;
    findSecrets(text).forEach(function (secret) {
      parts.push(text.slice(last, secret.start), MASK);
      last = secret.end;
    });
    parts.push(text.slice(last));
    return parts.join("");
  }

  return {
    MASK: MASK,
    TRUNCATED: TRUNCATED,
    MAX_MESSAGE_CHARS: MAX_MESSAGE_CHARS,
    findSecrets: findSecrets,
    maskSecrets: maskSecrets,
    cap: cap
  };
});
