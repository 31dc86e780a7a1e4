//! The bundled push application, what `echo-server` runs: echo on any
//! path, chat rooms on `/topic/NAME`, publishing over plain HTTP, a clock
//! on a timer, and the built-in page. The three apps of a typical
//! Flask-SocketIO tutorial (echo, time push, broadcast from a `GET /push`
//! route) in one handler.
//!
//! | request | what it does |
//! |---|---|
//! | WebSocket `/topic/NAME` | subscribes to NAME; each message it sends is published to NAME (to the others, or to all with [`AppConfig::room_echo`]), unless NAME is read-only ([`AppConfig::read_only_topics`], the clock's topic): then it is closed with 1008 |
//! | WebSocket, any other path | echo |
//! | `POST /publish/NAME` + body | publishes the body (text if UTF-8, else binary); answers `{"topic":..,"subscribers":N}` |
//! | `GET /push?topic=NAME&data=TEXT` | publishes TEXT, same answer |
//! | WebSocket `/topic/NAME?ids=1` | the same, each message in the tagged form with its id (needs history, [`ServerConfig::history`](super::ServerConfig::history)) |
//! | WebSocket `/topic/NAME?since=ID[&epoch=E]` | the same, first replaying the messages after ID (see [`Peer::subscribe_with_ids`]) |
//! | `GET /topics/NAME` | NAME's subscribers: `{"topic":..,"subscribers":N}` |
//! | `GET /topics[?limit=N]` | the topics with subscribers, the most subscribed first: `{"total":T,"topics":[{"topic":..,"subscribers":N},..]}` (100 unless `limit`, at most 10,000) |
//! | `GET /stats` | the server's counters as JSON |
//! | `GET /metrics` | the same counters in the Prometheus text format (`rfc6455_published_total`, ...) |
//! | `GET /rfc6455.js` | the browser client module ([`CLIENT_JS`]) |
//! | `GET /` | the page: echo and a room view |
//!
//! NAME (and the query's TEXT) is percent-decoded strictly, a malformed
//! escape or a result that is not UTF-8 getting a 400, and NAME is checked
//! by [`check_topic_name`] (400 if it fails).
//! Publishing, and asking for the topics (their names may be private: a
//! room per user, say), are refused (403) unless the request comes from
//! loopback, or carries `Authorization: Bearer TOKEN` when a token is
//! configured (then the token is required from every address, loopback
//! included: behind a reverse proxy on the same host every request comes
//! from loopback). A browser's cross-origin request is refused too (403): a
//! page on another site must not publish through a visitor's browser. That
//! is decided by `Origin`, or by `Sec-Fetch-Site` where a browser sends no
//! `Origin` (a GET from an `<img>`, say). A page of an origin listed in
//! [`allowed_origins`](super::ServerConfig::allowed_origins) may publish
//! with `fetch()`, and read the topics: the answers to `/publish/NAME`,
//! `/push` and `/topics` carry `Access-Control-Allow-Origin` for it, and
//! its preflight (`OPTIONS`, sent before a POST with a JSON body or an
//! `Authorization` header) is answered 204. A browser's request authorized
//! by loopback alone (no token) must also be sent to `127.0.0.1`, `[::1]`,
//! `localhost` or a name under `.localhost`: any other name may be one that
//! a hostile site made resolve to 127.0.0.1 (DNS rebinding), making its
//! page same-origin with this server. The refusals name publishing, for
//! `/topics` too. The subscriber counts are this instance's: with Redis
//! between instances, each counts its own. `HEAD` is answered like `GET`,
//! without the content, except on `/push`: it would publish, so it gets
//! 405. A request body is read only for a publish that will be taken:
//! anything else that announces one is answered from its head, the body
//! left unread.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::prelude::rust_2021::*;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{
    check_topic_name, exposition, json, ConnId, Context, Handler, HttpRequest, Message, Peer,
    Response, Since, UpgradeRequest,
};
use crate::close::CloseCode;
use crate::connection::MessageKind;

/// The built-in page served for a plain `GET /`: an echo tester and a room
/// view, written against the server's own API.
pub const PAGE: &str = include_str!("page.html");

/// The browser client served at `GET /rfc6455.js`: heartbeat, reconnect
/// with backoff and jitter, resume with ids, a send queue. A classic
/// script without dependencies (it defines `RFC6455`), usable from pages
/// served anywhere.
pub const CLIENT_JS: &str = include_str!("rfc6455.js");

/// Longest epoch accepted in a room URL's query.
pub(crate) const MAX_EPOCH_LEN: usize = 64;

/// Prefix of the WebSocket path that joins a room.
pub const TOPIC_PATH: &str = "/topic/";
/// Prefix of the HTTP path that publishes its body.
pub const PUBLISH_PATH: &str = "/publish/";
/// The HTTP path of the topic counts (`/topics`, `/topics/NAME`).
pub const TOPICS_PATH: &str = "/topics";

/// Topics `GET /topics` lists without `?limit`.
pub(crate) const TOPICS_LISTED: usize = 100;
/// Most topics `GET /topics` lists: the answer is built in one piece.
pub(crate) const TOPICS_LISTED_MAX: usize = 10_000;

/// Timer token of the clock.
const TICK: u64 = 1;

/// What the bundled application does beyond the server's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AppConfig {
    /// A room member also gets its own messages back. Default: no, like
    /// Socket.IO's `broadcast` and Bun's `ws.publish`.
    pub room_echo: bool,
    /// Publish the time (RFC 3339, UTC, milliseconds) to
    /// [`clock_topic`](Self::clock_topic) at this interval.
    pub tick: Option<Duration>,
    /// The topic of the clock (`clock` from the binary).
    pub clock_topic: String,
    /// Required as `Authorization: Bearer TOKEN` from every publisher when
    /// set; when not, only loopback may publish.
    pub publish_token: Option<String>,
    /// Topics only the server and HTTP publishers write to (a clock, a
    /// feed): members may join them to listen, and one that sends a
    /// message to one is closed with 1008. The clock's topic is read-only
    /// whenever [`tick`](Self::tick) is set, listed here or not.
    pub read_only_topics: Vec<String>,
}

impl AppConfig {
    /// Whether members' messages to `topic` are refused.
    fn is_read_only(&self, topic: &str) -> bool {
        (self.tick.is_some() && self.clock_topic == topic)
            || self.read_only_topics.iter().any(|t| t == topic)
    }
}

/// The bundled application: see the module docs.
#[derive(Debug, Clone)]
pub struct App {
    config: Arc<AppConfig>,
}

impl App {
    /// The application with `config`; one per worker (they share it).
    pub fn new(config: Arc<AppConfig>) -> App {
        App { config }
    }

    /// Whether `request` may publish to `topic`: the refusal (403, or 400
    /// for a bad name) if not.
    fn may_publish(
        &self,
        ctx: &Context<'_>,
        request: &HttpRequest<'_>,
        topic: &str,
    ) -> Result<(), Response> {
        self.may_use_api(ctx, request)?;
        check_topic_name(topic, ctx.config().topics.max_name_len)
            .map_err(|e| Response::new(400, format!("{e}\n")))
    }

    /// Whether `request` may use the publishing API (publish, count the
    /// topics): the refusal (401, 403) if not.
    fn may_use_api(&self, ctx: &Context<'_>, request: &HttpRequest<'_>) -> Result<(), Response> {
        PublishRequest::of(request).check(
            &ctx.config().allowed_origins,
            self.config.publish_token.as_deref(),
        )
    }

    /// `GET /topics/NAME` (`name`: the rest of the path, still encoded),
    /// or `GET /topics` (`None`): subscriber counts, for those who may
    /// publish.
    fn topics(&self, ctx: &Context<'_>, request: &HttpRequest<'_>, name: Option<&str>) -> Response {
        if let Err(refusal) = self.may_use_api(ctx, request) {
            return refusal;
        }
        let Some(encoded) = name else {
            let limit = match TopicsQuery::parse(request.query()) {
                Ok(q) => q.limit,
                Err(refusal) => return refusal,
            };
            let counts = ctx.topic_counts(limit);
            use std::fmt::Write as _;
            let mut body = format!("{{\"total\":{},\"topics\":[", counts.total);
            for (i, (topic, n)) in counts.busiest.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let topic = json::string(topic);
                let _ = write!(body, "{sep}{{\"topic\":{topic},\"subscribers\":{n}}}");
            }
            body.push_str("]}\n");
            return Response::json(200, body);
        };
        let topic = match decode(encoded) {
            Ok(topic) => topic,
            Err(refusal) => return refusal,
        };
        if let Err(e) = check_topic_name(&topic, ctx.config().topics.max_name_len) {
            return Response::new(400, format!("{e}\n"));
        }
        Response::json(
            200,
            format!(
                "{{\"topic\":{},\"subscribers\":{}}}\n",
                json::string(&topic),
                ctx.subscribers(&topic)
            ),
        )
    }

    /// Publishes `body` to the topic named in the request after `prefix`
    /// or in its query, once the request may publish.
    fn publish(
        &self,
        ctx: &mut Context<'_>,
        request: &HttpRequest<'_>,
        topic: &str,
        kind: MessageKind,
        body: &[u8],
    ) -> Response {
        if let Err(refusal) = self.may_publish(ctx, request, topic) {
            return refusal;
        }
        let reached = ctx.publish(topic, kind, body);
        Response::json(
            200,
            format!(
                "{{\"topic\":{},\"subscribers\":{reached}}}\n",
                json::string(topic)
            ),
        )
    }
}

impl Handler for App {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        // One clock for the whole server, not one per worker.
        if let (Some(every), 0) = (self.config.tick, ctx.worker()) {
            ctx.set_interval(every, TICK);
        }
    }

    fn on_upgrade(
        &mut self,
        ctx: &mut Context<'_>,
        _conn: ConnId,
        _peer_addr: SocketAddr,
        request: &UpgradeRequest<'_>,
    ) -> Result<(), Response> {
        match room(request.path()) {
            Some(Ok(topic)) => {
                check_topic_name(&topic, ctx.config().topics.max_name_len)
                    .map_err(|e| Response::new(400, format!("{e}\n")))?;
                let query = RoomQuery::parse(request.query())?;
                if query.ids && ctx.config().history.is_none() {
                    return Err(Response::new(
                        400,
                        "this server keeps no topic history: ids and since need --history\n",
                    ));
                }
                Ok(())
            }
            Some(Err(refusal)) => Err(refusal),
            None => Ok(()),
        }
    }

    fn on_open(&mut self, peer: &mut Peer<'_>, request: &UpgradeRequest<'_>) {
        if let Some(Ok(topic)) = room(request.path()) {
            // Checked in on_upgrade.
            let query = RoomQuery::parse(request.query()).unwrap_or_default();
            let subscribed = if query.ids {
                let since = query.since.map(|id| Since {
                    id,
                    epoch: query.epoch.as_deref(),
                });
                peer.subscribe_with_ids(&topic, since)
            } else {
                peer.subscribe(&topic)
            };
            if let Err(e) = subscribed {
                let _ = peer.close(CloseCode::POLICY_VIOLATION, &e.to_string());
            }
        }
    }

    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        let (kind, data) = match message {
            Message::Text(text) => (MessageKind::Text, text.as_bytes()),
            Message::Binary(data) => (MessageKind::Binary, data),
            Message::Ping(_) | Message::Pong(_) => return,
        };
        // A room member: what it says goes to the room. Anyone else: echo.
        let Some(topic) = peer.subscriptions().next().cloned() else {
            if peer.send(kind, data).is_err() {
                // Only reachable if the output bound is below the message size.
                let _ = peer.close(CloseCode::TOO_BIG, "echo does not fit the output buffer");
            }
            return;
        };
        if self.config.is_read_only(&topic) {
            // Else any listener could put words in the server's mouth (a
            // false time on the clock, say) for every other one.
            let _ = peer.close(CloseCode::POLICY_VIOLATION, "this topic is read-only");
            return;
        }
        if self.config.room_echo {
            peer.publish(&topic, kind, data);
        } else {
            peer.publish_to_others(&topic, kind, data);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, token: u64) {
        if token == TICK {
            let now = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
            ctx.publish(&self.config.clock_topic, MessageKind::Text, now.as_bytes());
        }
    }

    fn on_http_head(
        &mut self,
        ctx: &mut Context<'_>,
        request: &HttpRequest<'_>,
        _body_len: usize,
    ) -> Option<Response> {
        // Only a publish that will be taken reads its body: every other
        // request (a refused publish, a route that ignores bodies) is
        // answered now, so a peer that may not publish cannot make the
        // server hold up to max_body bytes per connection.
        if request.method() == "POST" {
            if let Some(encoded) = request.path().strip_prefix(PUBLISH_PATH) {
                if let Ok(topic) = decode(encoded) {
                    if self.may_publish(ctx, request, &topic).is_ok() {
                        return None;
                    }
                }
            }
        }
        // What on_http answers without the body: the same refusal, or the
        // route's answer.
        Some(self.on_http(ctx, request))
    }

    fn on_http(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Response {
        let path = request.path();
        if !(path.starts_with(PUBLISH_PATH) || path == "/push" || topics_route(path).is_some()) {
            return self.serve(ctx, request);
        }
        // A page of a listed origin publishes with fetch(): the browser
        // shows it the answer only with CORS headers, and asks first
        // (OPTIONS) before a POST with a JSON body or a token.
        let Some(origin) = listed_origin(request, &ctx.config().allowed_origins) else {
            return self.serve(ctx, request);
        };
        let response = if request.method() == "OPTIONS" {
            Response::new(204, "")
                .header("Access-Control-Allow-Methods", "POST, GET")
                .header(
                    "Access-Control-Allow-Headers",
                    "Authorization, Content-Type",
                )
                .header("Access-Control-Max-Age", "600")
        } else {
            self.serve(ctx, request)
        };
        response
            .header("Access-Control-Allow-Origin", origin)
            .header("Vary", "Origin")
    }
}

impl App {
    /// A plain request, without the CORS headers `on_http` adds.
    fn serve(&mut self, ctx: &mut Context<'_>, request: &HttpRequest<'_>) -> Response {
        let path = request.path();
        let method = request.method();
        if let Some(encoded) = path.strip_prefix(PUBLISH_PATH) {
            if method != "POST" {
                return Response::new(405, "publish with POST\n").header("Allow", "POST");
            }
            let topic = match decode(encoded) {
                Ok(topic) => topic,
                Err(refusal) => return refusal,
            };
            let body = request.body();
            let kind = match std::str::from_utf8(body) {
                Ok(_) => MessageKind::Text,
                Err(_) => MessageKind::Binary,
            };
            return self.publish(ctx, request, &topic, kind, body);
        }
        if method != "GET" && method != "HEAD" {
            return Response::new(405, "only GET and HEAD are served here\n")
                .header("Allow", "GET, HEAD");
        }
        if let Some(name) = topics_route(path) {
            return self.topics(ctx, request, name);
        }
        match path {
            "/" | "/index.html" => page(ctx.config()),
            "/rfc6455.js" => client_js(),
            // HEAD is safe (RFC 9110 section 9.2.1): link checkers and
            // monitors send it expecting nothing to happen.
            "/push" if method == "HEAD" => {
                Response::new(405, "GET /push publishes; HEAD does not\n").header("Allow", "GET")
            }
            "/push" => match PushQuery::parse(request.query()) {
                Ok(PushQuery {
                    topic: Some(topic),
                    data,
                }) => self.publish(ctx, request, &topic, MessageKind::Text, data.as_bytes()),
                Ok(PushQuery { topic: None, .. }) => {
                    Response::new(400, "/push needs ?topic=NAME (and &data=TEXT)\n")
                }
                Err(refusal) => refusal,
            },
            "/stats" => Response::json(200, exposition::json(&ctx.stats())),
            "/metrics" => Response::new(200, exposition::prometheus(&ctx.stats()))
                .content_type(exposition::PROMETHEUS_TYPE),
            "/favicon.ico" => Response::not_found(),
            _ => Response::upgrade_required(),
        }
    }
}

/// The request's `Origin` when it is one of `allowed` (`--allow-origin`):
/// a page of that origin may publish, and is shown the answer.
fn listed_origin<'r>(request: &HttpRequest<'r>, allowed: &[String]) -> Option<&'r str> {
    let origin = std::str::from_utf8(request.header("Origin")?).ok()?;
    allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(origin))
        .then_some(origin)
}

/// The built-in page, told through its meta tags what the server does
/// that its client needs to know: the heartbeat (if any) to send, whether
/// rooms keep history (then it resumes after a reconnect), and whether
/// Redis joins it to other instances (then it shows no member count, which
/// would be one instance's).
pub fn page(config: &super::ServerConfig) -> Response {
    let mut page = Cow::Borrowed(PAGE);
    let mut set = |name: &str, value: &str| {
        let empty = format!("<meta name=\"{name}\" content=\"\">");
        let filled = format!("<meta name=\"{name}\" content=\"{}\">", attr(value));
        page = Cow::Owned(page.replace(&empty, &filled));
    };
    if let Some(h) = &config.heartbeat {
        set("rfc6455-heartbeat", &h.text);
        set("rfc6455-heartbeat-reply", &h.reply);
    }
    if config.history.is_some() {
        set("rfc6455-history", "on");
    }
    #[cfg(feature = "redis")]
    if config.redis.is_some() {
        set("rfc6455-relay", "on");
    }
    match page {
        Cow::Borrowed(page) => Response::html(page),
        Cow::Owned(page) => Response::new(200, page).content_type("text/html; charset=utf-8"),
    }
}

/// `GET /rfc6455.js`: any site's pages may load it.
pub fn client_js() -> Response {
    Response::new(200, CLIENT_JS)
        .content_type("text/javascript; charset=utf-8")
        .header("Access-Control-Allow-Origin", "*")
        .header("Cache-Control", "no-cache")
}

/// `s` escaped for an HTML attribute value in double quotes.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// What `GET /push` asks for: `?topic=NAME&data=TEXT`, each value
/// percent-decoded strictly (`+` is a space), the last of a key winning;
/// other keys are ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PushQuery {
    pub(crate) topic: Option<String>,
    /// Empty without `data`.
    pub(crate) data: String,
}

impl PushQuery {
    /// 400 if a value is malformed or not UTF-8 once decoded.
    pub(crate) fn parse(query: Option<&str>) -> Result<PushQuery, Response> {
        let mut q = PushQuery::default();
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "topic" => q.topic.get_or_insert_with(String::new),
                "data" => &mut q.data,
                _ => continue,
            };
            match decode_form(value) {
                Some(value) => *slot = value,
                None => {
                    return Err(Response::new(
                        400,
                        "the query's topic and data must be UTF-8 once percent-decoded\n",
                    ))
                }
            }
        }
        Ok(q)
    }
}

/// Which topics route `path` is: `Some(None)` for `/topics`,
/// `Some(Some(NAME))` for `/topics/NAME` (NAME still encoded).
pub(crate) fn topics_route(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix(TOPICS_PATH)?;
    if rest.is_empty() {
        return Some(None);
    }
    rest.strip_prefix('/').map(Some)
}

/// What `GET /topics` asks for: `?limit=N`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TopicsQuery {
    /// How many topics to list, at most [`TOPICS_LISTED_MAX`] (a larger
    /// limit is lowered to it).
    pub(crate) limit: usize,
}

impl TopicsQuery {
    /// 400 if a `limit` is not decimal digits; the last one counts.
    pub(crate) fn parse(query: Option<&str>) -> Result<TopicsQuery, Response> {
        let mut limit = TOPICS_LISTED;
        for pair in query.unwrap_or("").split('&') {
            let Some(value) = pair.strip_prefix("limit=") else {
                continue;
            };
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Response::new(400, "limit must be a number\n"));
            }
            // Digits past usize: as many as may be listed.
            limit = value.parse().unwrap_or(TOPICS_LISTED_MAX);
        }
        Ok(TopicsQuery {
            limit: limit.min(TOPICS_LISTED_MAX),
        })
    }
}

/// What a room URL's query asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct RoomQuery {
    /// Messages in the tagged form (`ids=1`, implied by `since`).
    pub(crate) ids: bool,
    /// Resume after this id (`since=ID`).
    pub(crate) since: Option<u64>,
    /// The epoch of that id (`epoch=E`).
    pub(crate) epoch: Option<String>,
}

impl RoomQuery {
    /// Each value is percent-decoded strictly, as `/push`'s: 400 if one is
    /// malformed or not UTF-8 once decoded.
    pub(crate) fn parse(query: Option<&str>) -> Result<RoomQuery, Response> {
        let mut q = RoomQuery::default();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if !matches!(key, "ids" | "since" | "epoch") {
                continue;
            }
            let Some(value) = decode_form(value) else {
                return Err(Response::new(
                    400,
                    "the query's values must be UTF-8 once percent-decoded\n",
                ));
            };
            match key {
                "ids" => {
                    q.ids = match &*value {
                        "" | "1" | "true" => true,
                        "0" | "false" => false,
                        _ => return Err(Response::new(400, "ids takes 1 or 0\n")),
                    }
                }
                // Digits only: `parse` would take a leading `+` too.
                "since" => match value.parse::<u64>() {
                    Ok(id) if value.bytes().all(|b| b.is_ascii_digit()) => q.since = Some(id),
                    _ => return Err(Response::new(400, "since takes a message id (0 or more)\n")),
                },
                "epoch" if value.len() <= MAX_EPOCH_LEN => q.epoch = Some(value),
                "epoch" => return Err(Response::new(400, "epoch is too long\n")),
                _ => {}
            }
        }
        q.ids |= q.since.is_some();
        Ok(q)
    }
}

/// The room a WebSocket path joins: `Some` for `/topic/...`, with the
/// decoded name or the refusal.
pub(crate) fn room(path: &str) -> Option<Result<String, Response>> {
    path.strip_prefix(TOPIC_PATH).map(decode)
}

/// Percent-decodes a topic name from a path; 400 if an escape is
/// malformed or the name is not UTF-8.
pub(crate) fn decode(encoded: &str) -> Result<String, Response> {
    percent_decode(encoded, false).ok_or_else(|| {
        Response::new(
            400,
            "the topic name is not UTF-8 once percent-decoded (or an escape is malformed)\n",
        )
    })
}

/// Decodes a query value (`+` is a space); `None` if an escape is
/// malformed or the result is not UTF-8.
pub(crate) fn decode_form(encoded: &str) -> Option<String> {
    percent_decode(encoded, true)
}

/// Strict percent-decoding (RFC 3986 section 2.1: `%` and two hex
/// digits): a malformed escape or a result that is not UTF-8 is refused,
/// never passed through as a literal `%` or replaced by U+FFFD, which
/// would put unrelated bad names onto one topic.
fn percent_decode(encoded: &str, plus_is_space: bool) -> Option<String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What decides whether a request may publish: see the module docs.
struct PublishRequest<'a> {
    origin: Option<&'a [u8]>,
    /// The authority the request was sent to: an absolute-form target's
    /// (RFC 9112 section 3.2.2), else `Host`.
    host: Option<&'a [u8]>,
    /// `Sec-Fetch-Site`, which browsers send also where they send no
    /// `Origin` (a GET from an `<img>` on another site, say).
    fetch_site: Option<&'a [u8]>,
    authorization: Option<&'a [u8]>,
    from: IpAddr,
}

impl<'a> PublishRequest<'a> {
    fn of(request: &HttpRequest<'a>) -> Self {
        // Only a target that is not origin-form (`/path?query`) has an
        // authority: `://` in a query is data, not a scheme's end.
        let target_authority = Some(request.target())
            .filter(|t| !t.starts_with('/'))
            .and_then(|t| t.split_once("://"))
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(rest).as_bytes());
        PublishRequest {
            origin: request.header("Origin"),
            host: target_authority.or_else(|| request.header("Host")),
            fetch_site: request.header("Sec-Fetch-Site"),
            authorization: request.header("Authorization"),
            from: request.peer_addr().ip(),
        }
    }

    fn check(&self, allowed_origins: &[String], token: Option<&str>) -> Result<(), Response> {
        let other_site = self.fetch_site.is_some_and(|site| {
            site.eq_ignore_ascii_case(b"cross-site") || site.eq_ignore_ascii_case(b"same-site")
        });
        if self.origin.is_none() && other_site {
            // A browser request from another origin that carries no Origin
            // (no-cors GETs do not): refused like one that does.
            return Err(Response::new(403, "cross-origin publishing is refused\n"));
        }
        if let Some(origin) = self.origin {
            // A browser says where the page came from: its own host, or a
            // listed origin, may publish; any other site may not.
            let authority = origin
                .iter()
                .position(|&b| b == b'/')
                .and_then(|i| origin[i..].strip_prefix(b"//"));
            let same_site = authority
                .zip(self.host)
                .is_some_and(|(a, host)| a.eq_ignore_ascii_case(host));
            let listed = allowed_origins
                .iter()
                .any(|a| a.as_bytes().eq_ignore_ascii_case(origin));
            if !(same_site || listed) {
                return Err(Response::new(403, "cross-origin publishing is refused\n"));
            }
        }
        match token {
            Some(token) => match self.authorization.and_then(bearer_token) {
                None => Err(Response::new(
                    401,
                    "publishing needs Authorization: Bearer TOKEN\n",
                )
                .header("WWW-Authenticate", "Bearer")),
                Some(given) if constant_time_eq(given, token.as_bytes()) => Ok(()),
                Some(_) => Err(Response::new(403, "wrong publish token\n")),
            },
            None if self.from.to_canonical().is_loopback() => {
                // A page of evil.example whose name is made to resolve to
                // 127.0.0.1 (DNS rebinding) is same-origin with what it
                // reaches here, and its requests come from loopback. A
                // browser's request is let through on loopback alone only
                // when sent to a name that cannot be rebound.
                // (`Sec-Fetch-Site: none` is the user's own navigation.)
                let page = self.origin.is_some()
                    || self.fetch_site.is_some_and(|s| !s.eq_ignore_ascii_case(b"none"));
                if page && !self.host.is_some_and(is_local_name) {
                    return Err(Response::new(
                        403,
                        "without a token, a page publishes only to an IP address, localhost or *.localhost\n",
                    ));
                }
                Ok(())
            }
            None => Err(Response::new(
                403,
                "publishing is allowed from loopback only (start the server with --publish-token)\n",
            )),
        }
    }
}

/// The token of `Authorization: Bearer TOKEN`; the scheme is matched
/// without regard to case (RFC 9110 section 11.1), then one or more spaces.
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    let token = rest.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"Bearer") && !token.is_empty()).then_some(token)
}

/// Whether an authority (`Host`) names this machine in a way DNS cannot
/// redirect: an IP address, `localhost` or a name under `.localhost`
/// (RFC 6761, which browsers resolve to loopback themselves).
fn is_local_name(authority: &[u8]) -> bool {
    let Ok(authority) = std::str::from_utf8(authority) else {
        return false;
    };
    if let Some(rest) = authority.strip_prefix('[') {
        let Some((address, port)) = rest.split_once(']') else {
            return false;
        };
        return (port.is_empty() || port.starts_with(':'))
            && address.parse::<std::net::Ipv6Addr>().is_ok();
    }
    let name = authority
        .split_once(':')
        .map_or(authority, |(name, _)| name);
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
}

/// Compares a presented secret with the expected one in a time that
/// depends on the presented one's length alone: no exit at the first
/// difference, and none at a length that differs (which would tell a
/// prober the token's length).
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    if expected.is_empty() {
        return given.is_empty();
    }
    let diff = given
        .iter()
        .enumerate()
        .fold(given.len() ^ expected.len(), |acc, (i, g)| {
            acc | usize::from(g ^ expected[i % expected.len()])
        });
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_topics_routes_and_their_limit() {
        assert_eq!(topics_route("/topics"), Some(None));
        assert_eq!(topics_route("/topics/a%20b"), Some(Some("a%20b")));
        assert_eq!(topics_route("/topics/"), Some(Some("")));
        assert_eq!(topics_route("/topicsx"), None);
        assert_eq!(topics_route("/topic/a"), None);
        let limit = |q| {
            TopicsQuery::parse(q)
                .map(|q| q.limit)
                .map_err(|r| r.status())
        };
        assert_eq!(limit(None), Ok(TOPICS_LISTED));
        assert_eq!(limit(Some("limit=7")), Ok(7));
        assert_eq!(limit(Some("x=1&limit=0")), Ok(0));
        assert_eq!(limit(Some("limit=10001")), Ok(TOPICS_LISTED_MAX));
        assert_eq!(
            limit(Some("limit=99999999999999999999999")),
            Ok(TOPICS_LISTED_MAX)
        );
        assert_eq!(limit(Some("limit=")), Err(400));
        assert_eq!(limit(Some("limit=-1")), Err(400));
        assert_eq!(limit(Some("limit=1e3")), Err(400));
        assert_eq!(limit(Some("limit=+5")), Err(400));
        assert_eq!(limit(Some("limit=5&limit=6")), Ok(6));
        assert_eq!(limit(Some("limit=x&limit=6")), Err(400));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        assert!(!constant_time_eq(b"s3cre", b"s3cret"));
        assert!(!constant_time_eq(b"s3crets3cret", b"s3cret"));
        assert!(!constant_time_eq(b"", b"s3cret"));
        assert!(!constant_time_eq(b"x", b""));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn who_may_publish() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let far: IpAddr = "192.0.2.7".parse().unwrap();
        let plain = |from| PublishRequest {
            origin: None,
            host: Some(b"h:1"),
            fetch_site: None,
            authorization: None,
            from,
        };
        let status = |r: Result<(), Response>| r.err().map_or(200, |r| r.status());
        // No token: loopback only.
        assert_eq!(status(plain(lo).check(&[], None)), 200);
        assert_eq!(status(plain(mapped).check(&[], None)), 200);
        assert_eq!(status(plain(far).check(&[], None)), 403);
        // A token: required from everyone, loopback too.
        let with = |auth: &'static [u8], from| PublishRequest {
            authorization: Some(auth),
            ..plain(from)
        };
        assert_eq!(status(plain(lo).check(&[], Some("t0k"))), 401);
        assert_eq!(
            status(with(b"Bearer t0k", far).check(&[], Some("t0k"))),
            200
        );
        assert_eq!(
            status(with(b"Bearer t0K", far).check(&[], Some("t0k"))),
            403
        );
        assert_eq!(status(with(b"Basic t0k", far).check(&[], Some("t0k"))), 401);
        // The scheme in any case, then one or more spaces (RFC 9110 11.1).
        assert_eq!(
            status(with(b"bearer t0k", far).check(&[], Some("t0k"))),
            200
        );
        assert_eq!(
            status(with(b"BEARER  t0k", far).check(&[], Some("t0k"))),
            200
        );
        assert_eq!(status(with(b"Bearer", far).check(&[], Some("t0k"))), 401);
        assert_eq!(status(with(b"Bearert0k", far).check(&[], Some("t0k"))), 401);
        // Browsers: the server's own pages and listed origins only.
        let from_page = |origin: &'static [u8]| PublishRequest {
            origin: Some(origin),
            host: Some(b"127.0.0.1:1"),
            ..plain(lo)
        };
        assert_eq!(
            status(from_page(b"http://127.0.0.1:1").check(&[], None)),
            200
        );
        assert_eq!(
            status(from_page(b"https://evil.example").check(&[], None)),
            403
        );
        assert_eq!(status(from_page(b"null").check(&[], None)), 403);
        let listed = ["https://app.example".to_owned()];
        assert_eq!(
            status(from_page(b"https://app.example").check(&listed, None)),
            200
        );
        // A browser GET without Origin (an <img> on another site) still
        // says where it comes from in Sec-Fetch-Site.
        let fetched = |site: &'static [u8]| PublishRequest {
            fetch_site: Some(site),
            host: Some(b"127.0.0.1:1"),
            ..plain(lo)
        };
        assert_eq!(status(fetched(b"cross-site").check(&[], None)), 403);
        assert_eq!(status(fetched(b"same-site").check(&[], None)), 403);
        assert_eq!(status(fetched(b"same-origin").check(&[], None)), 200);
        assert_eq!(status(fetched(b"none").check(&[], None)), 200);
        // DNS rebinding: a page of a name made to resolve to 127.0.0.1 is
        // same-origin with it, and comes from loopback. Not without a
        // token; a program (no Origin, no Sec-Fetch-Site) is no browser.
        let rebound = |host: &'static [u8], origin: &'static [u8]| PublishRequest {
            origin: Some(origin),
            host: Some(host),
            ..plain(lo)
        };
        let evil = rebound(b"evil.example:9001", b"http://evil.example:9001");
        assert_eq!(status(evil.check(&[], None)), 403);
        let same_origin = PublishRequest {
            fetch_site: Some(b"same-origin"),
            host: Some(b"evil.example:9001"),
            ..plain(lo)
        };
        assert_eq!(status(same_origin.check(&[], None)), 403);
        let typed = PublishRequest {
            fetch_site: Some(b"none"),
            ..same_origin
        };
        assert_eq!(
            status(typed.check(&[], None)),
            200,
            "the user's own navigation"
        );
        assert_eq!(status(with(b"Bearer t0k", lo).check(&[], Some("t0k"))), 200);
        for (host, origin) in [
            (&b"localhost:9001"[..], &b"http://localhost:9001"[..]),
            (b"LocalHost.:9001", b"http://LocalHost.:9001"),
            (b"app.localhost", b"http://app.localhost"),
            (b"[::1]:9001", b"http://[::1]:9001"),
            (b"127.0.0.1", b"http://127.0.0.1"),
        ] {
            let ok = rebound(host, origin).check(&[], None);
            assert_eq!(status(ok), 200, "{}", String::from_utf8_lossy(host));
        }
        for host in [
            &b"localhost.evil.example"[..],
            b"127.0.0.1.nip.io",
            b"[::1",
            b"[::1]x",
            b"[evil]:1",
            b"\xff",
        ] {
            assert!(!is_local_name(host), "{}", String::from_utf8_lossy(host));
        }
    }

    #[test]
    fn names_are_percent_decoded_strictly() {
        assert_eq!(decode("caf%C3%A9").ok().as_deref(), Some("café"));
        assert_eq!(decode("a+b").ok().as_deref(), Some("a+b"));
        assert_eq!(decode_form("a+b%20c").as_deref(), Some("a b c"));
        for bad in ["%FF", "%C0%AF", "%zz", "%4", "a%", "%%41"] {
            assert_eq!(decode(bad).err().map(|r| r.status()), Some(400), "{bad}");
            assert_eq!(decode_form(bad), None, "{bad}");
        }
    }

    /// Parses `head` as a plain request from loopback and hands its
    /// publish view to `check`.
    fn with_publish_request(head: &[u8], check: impl FnOnce(PublishRequest<'_>)) {
        let mut parser = crate::handshake::RequestParser::new(&crate::Limits::default());
        let parsed = parser.parse(head);
        let Ok(crate::frame::Status::Complete(crate::handshake::Opening::Http(req))) = parsed
        else {
            core::panic!("not a plain request");
        };
        let request = HttpRequest {
            head: &req,
            body: b"",
            peer_addr: "127.0.0.1:1".parse().unwrap(),
        };
        check(PublishRequest::of(&request));
    }

    #[test]
    fn a_publish_compares_origin_with_the_target_it_was_sent_to() {
        let head = b"POST http://127.0.0.1:9001/publish/a HTTP/1.1\r\nHost: evil.example\r\n\r\n";
        with_publish_request(head, |publish| {
            assert_eq!(publish.host, Some(&b"127.0.0.1:9001"[..]));
        });
    }

    #[test]
    fn a_url_in_the_query_is_not_the_target_authority() {
        // An origin-form target whose query holds `://`: a page of
        // evil.example must not pass as same-site by naming itself there.
        let head = b"POST /publish/a?x=http://evil.example HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nOrigin: http://evil.example\r\n\r\n";
        with_publish_request(head, |publish| {
            assert_eq!(publish.host, Some(&b"127.0.0.1:9001"[..]));
            let refused = publish.check(&[], None).err().map(|r| r.status());
            assert_eq!(refused, Some(403));
        });
    }

    #[test]
    fn room_queries_are_read_strictly() {
        let q = |s: &str| RoomQuery::parse(Some(s)).map_err(|r| r.status());
        assert_eq!(q(""), Ok(RoomQuery::default()));
        assert!(q("ids=1").unwrap().ids);
        assert!(!q("ids=0").unwrap().ids);
        let r = q("since=12&epoch=ab12").unwrap();
        assert_eq!(
            (r.ids, r.since, r.epoch.as_deref()),
            (true, Some(12), Some("ab12"))
        );
        assert_eq!(q("since=0").unwrap().since, Some(0));
        assert_eq!(q("since=-1"), Err(400));
        assert_eq!(q("since=99999999999999999999999"), Err(400));
        assert_eq!(q("ids=maybe"), Err(400));
        assert_eq!(q(&format!("since=1&epoch={}", "e".repeat(65))), Err(400));
        // As strict as paths and /push: no `+` sign, no U+FFFD stand-in.
        assert_eq!(q("since=%2B5"), Err(400));
        assert_eq!(q("since=1&epoch=%FF"), Err(400));
        assert_eq!(q("since=1&epoch=%zz"), Err(400));
        assert_eq!(
            q("since=1&epoch=a%2Fb").unwrap().epoch.as_deref(),
            Some("a/b")
        );
        assert_eq!(
            q("other=%FF&ids=1"),
            Ok(RoomQuery {
                ids: true,
                ..RoomQuery::default()
            })
        );
    }

    #[test]
    fn the_page_is_told_the_heartbeat() {
        let config = crate::server::ServerConfig {
            heartbeat: Some(crate::server::Heartbeat {
                text: "heart\"Check".into(),
                reply: "<ok>".into(),
                also: vec!["ping".into()],
            }),
            history: Some(crate::server::HistoryLimits::default()),
            ..Default::default()
        };
        let page = page(&config);
        let body = std::str::from_utf8(page.body()).unwrap();
        assert!(body.contains("<meta name=\"rfc6455-heartbeat\" content=\"heart&quot;Check\">"));
        assert!(body.contains("<meta name=\"rfc6455-heartbeat-reply\" content=\"&lt;ok&gt;\">"));
        assert!(body.contains("<meta name=\"rfc6455-history\" content=\"on\">"));
        let plain = super::page(&Default::default());
        let body = std::str::from_utf8(plain.body()).unwrap();
        assert!(body.contains("<meta name=\"rfc6455-heartbeat\" content=\"\">"));
        assert!(body.contains("<meta name=\"rfc6455-history\" content=\"\">"));
        assert!(body.contains("<meta name=\"rfc6455-relay\" content=\"\">"));
        #[cfg(feature = "redis")]
        {
            let relayed = crate::server::ServerConfig {
                redis: Some(crate::server::RedisConfig::default()),
                ..Default::default()
            };
            let page = super::page(&relayed);
            let body = std::str::from_utf8(page.body()).unwrap();
            assert!(body.contains("<meta name=\"rfc6455-relay\" content=\"on\">"));
        }
    }

    #[test]
    fn room_names_are_decoded() {
        assert_eq!(room("/topic/a%20b").unwrap().unwrap(), "a b");
        assert_eq!(room("/topic/%E8%81%8A").unwrap().unwrap(), "聊");
        assert_eq!(room("/topic/%FF").unwrap().unwrap_err().status(), 400);
        assert!(room("/echo").is_none());
    }
}
