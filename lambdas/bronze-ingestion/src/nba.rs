//! A polite client for the NBA stats API (`stats.nba.com/stats/`).
//!
//! - Browser-like headers on every request (the API drops requests that look like scripts).
//! - At least [`ClientConfig::min_interval`] between the starts of two requests, retries included.
//! - 429: exponential back-off, at least the `Retry-After` the server asks for, capped at
//!   [`ClientConfig::backoff_cap`]. 5xx, timeouts and connection failures: the same back-off.
//!   At most [`ClientConfig::max_attempts`] attempts per URL; other 4xx statuses are not retried.

use std::time::Duration;

use chrono::NaiveDate;
use pipewright_stage::log::Logger;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Where the real API lives.
pub const DEFAULT_BASE_URL: &str = "https://stats.nba.com/stats/";

/// What the NBA's own web pages send (the API rejects or stalls requests without them).
pub const USER_AGENT: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// How the client talks to the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Base URL of the endpoints (`https://stats.nba.com/stats/`); endpoint names are appended.
    pub base_url: String,
    /// Minimum time between the starts of two requests (politeness: 1 s against the real API).
    pub min_interval: Duration,
    /// Timeout of one request, body included.
    pub timeout: Duration,
    /// Attempts per URL, the first included.
    pub max_attempts: u32,
    /// First back-off delay; doubled after each failed attempt.
    pub backoff_base: Duration,
    /// No back-off delay (nor `Retry-After`) is waited longer than this.
    pub backoff_cap: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_string(),
            min_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(60),
        }
    }
}

/// The client cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("base URL `{url}` is not a valid URL")]
    BaseUrl {
        url: String,
        #[source]
        source: <Url as std::str::FromStr>::Err,
    },
    #[error("base URL `{0}` is not http(s)")]
    Scheme(String),
    #[error("`max_attempts` must be at least 1")]
    NoAttempts,
    #[error("building the HTTP client")]
    Http(#[source] reqwest::Error),
}

/// A request that did not produce a successful response.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("GET {url}: HTTP {status} (not retried)")]
    Rejected {
        url: String,
        status: u16,
        /// The response body, for the quarantine report.
        body: Vec<u8>,
    },
    #[error("GET {url}: still HTTP {status} after {attempts} attempts")]
    Exhausted { url: String, status: u16, attempts: u32 },
    #[error("GET {url}: failed after {attempts} attempts")]
    Transport {
        url: String,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: String,
    pub body: Vec<u8>,
    pub attempts: u32,
}

/// Keeps the starts of requests at least `interval` apart (callers queue on the lock).
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl Pacer {
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: Mutex::new(None) }
    }

    /// Waits until a request may start, and records that it starts now.
    pub async fn ready(&self) {
        let mut last = self.last.lock().await;
        if let Some(previous) = *last {
            tokio::time::sleep_until(previous + self.interval).await;
        }
        *last = Some(Instant::now());
    }
}

/// The delay before attempt `failed + 1`, after `failed` failed attempts: `base * 2^(failed-1)`,
/// at least `retry_after`, at most `cap`.
pub fn backoff_delay(config: &ClientConfig, failed: u32, retry_after: Option<Duration>) -> Duration {
    let factor = 2u32.saturating_pow(failed.saturating_sub(1));
    let exponential = config.backoff_base.saturating_mul(factor);
    exponential.max(retry_after.unwrap_or_default()).min(config.backoff_cap)
}

/// `Retry-After` as delay-seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - now).to_std().unwrap_or_default())
}

/// The NBA stats API.
#[derive(Debug)]
pub struct NbaClient {
    http: reqwest::Client,
    base: Url,
    config: ClientConfig,
    pacer: Pacer,
    log: Logger,
}

fn browser_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let pairs: [(HeaderName, &'static str); 8] = [
        (header::USER_AGENT, USER_AGENT),
        (header::ACCEPT, "application/json, text/plain, */*"),
        (header::ACCEPT_LANGUAGE, "en-US,en;q=0.9"),
        (header::REFERER, "https://stats.nba.com/"),
        (header::ORIGIN, "https://stats.nba.com"),
        (header::CACHE_CONTROL, "no-cache"),
        (HeaderName::from_static("x-nba-stats-origin"), "stats"),
        (HeaderName::from_static("x-nba-stats-token"), "true"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
}

enum Failure {
    Status(StatusCode, Option<Duration>),
    Transport(reqwest::Error),
}

impl NbaClient {
    pub fn new(config: ClientConfig, log: Logger) -> Result<Self, ClientError> {
        if config.max_attempts == 0 {
            return Err(ClientError::NoAttempts);
        }
        let mut text = config.base_url.clone();
        if !text.ends_with('/') {
            text.push('/');
        }
        let base = Url::parse(&text).map_err(|source| ClientError::BaseUrl { url: config.base_url.clone(), source })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(ClientError::Scheme(config.base_url.clone()));
        }
        let http = reqwest::Client::builder()
            .default_headers(browser_headers())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(ClientError::Http)?;
        Ok(Self { http, base, pacer: Pacer::new(config.min_interval), config, log })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    fn endpoint(&self, name: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        // The base ends with `/`: the endpoint is its last segment.
        url.set_path(&format!("{}{name}", self.base.path()));
        url.query_pairs_mut().extend_pairs(query);
        url
    }

    /// `leaguegamefinder` for the games of one date, one row per team per game.
    /// `LeagueID=00` is the NBA (not the WNBA or G League); `PlayerOrTeam=T` asks for team rows;
    /// `DateFrom`/`DateTo` take `MM/DD/YYYY`. No `SeasonType`: pre-season, regular season, play-in
    /// and playoff games all count.
    pub fn game_finder_url(&self, date: NaiveDate) -> Url {
        let day = date.format("%m/%d/%Y").to_string();
        self.endpoint(
            "leaguegamefinder",
            &[("LeagueID", "00"), ("PlayerOrTeam", "T"), ("DateFrom", &day), ("DateTo", &day)],
        )
    }

    /// `boxscoretraditionalv3` of one game, whole game (periods and ranges 0).
    pub fn box_score_url(&self, game_id: &str) -> Url {
        self.endpoint(
            "boxscoretraditionalv3",
            &[
                ("GameID", game_id),
                ("StartPeriod", "0"),
                ("EndPeriod", "0"),
                ("StartRange", "0"),
                ("EndRange", "0"),
                ("RangeType", "0"),
            ],
        )
    }

    /// GET `url` with pacing, back-off and bounded retries; the body of the first 2xx response.
    pub async fn get(&self, url: Url) -> Result<Fetched, FetchError> {
        let text = url.to_string();
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.pacer.ready().await;
            let failure = match self.http.get(url.clone()).send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(body) => return Ok(Fetched { url: text, body: body.to_vec(), attempts }),
                    Err(e) => Failure::Transport(e),
                },
                Ok(response) => {
                    let status = response.status();
                    if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                        let body = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                        return Err(FetchError::Rejected { url: text, status: status.as_u16(), body });
                    }
                    let retry_after = response
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    Failure::Status(status, retry_after)
                }
                Err(e) if e.is_builder() => return Err(FetchError::Transport { url: text, attempts, source: e }),
                Err(e) => Failure::Transport(e),
            };
            let retry_after = match &failure {
                Failure::Status(_, after) => *after,
                Failure::Transport(_) => None,
            };
            if attempts >= self.config.max_attempts {
                return Err(match failure {
                    Failure::Status(status, _) => {
                        FetchError::Exhausted { url: text, status: status.as_u16(), attempts }
                    }
                    Failure::Transport(source) => FetchError::Transport { url: text, attempts, source },
                });
            }
            let delay = backoff_delay(&self.config, attempts, retry_after);
            let mut line = self.log.warn("retrying").field("url", text.as_str()).field("attempt", attempts);
            line = match &failure {
                Failure::Status(status, _) => line.field("status", status.as_u16()),
                Failure::Transport(e) => line.error(e),
            };
            line.field("delay_ms", u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)).emit();
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClientConfig {
        ClientConfig {
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(60),
            ..Default::default()
        }
    }

    #[test]
    fn backoff_doubles_honours_retry_after_and_is_capped() {
        let c = config();
        let secs = |failed, after: Option<u64>| backoff_delay(&c, failed, after.map(Duration::from_secs)).as_secs();
        assert_eq!([secs(1, None), secs(2, None), secs(3, None), secs(4, None)], [2, 4, 8, 16]);
        assert_eq!(secs(6, None), 60);
        assert_eq!(secs(40, None), 60, "no overflow");
        assert_eq!(secs(1, Some(7)), 7);
        assert_eq!(secs(4, Some(7)), 16, "never shorter than the back-off");
        assert_eq!(secs(1, Some(3600)), 60, "Retry-After is capped");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-16T09:30:00Z").expect("date").to_utc();
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after("Tue, 16 Jan 2024 09:30:12 GMT", now), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Tue, 16 Jan 2024 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[tokio::test(start_paused = true)]
    async fn pacer_keeps_requests_apart() {
        let pacer = Pacer::new(Duration::from_secs(1));
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..4 {
            pacer.ready().await;
            starts.push(start.elapsed());
        }
        assert_eq!(starts, [0, 1, 2, 3].map(Duration::from_secs));
        // Time spent elsewhere counts towards the interval.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let before = Instant::now();
        pacer.ready().await;
        assert_eq!(before.elapsed(), Duration::ZERO);
    }

    #[test]
    fn urls_carry_the_documented_parameters() {
        let (log, _) = Logger::capture("bronze-ingestion");
        let client =
            NbaClient::new(ClientConfig { base_url: "http://127.0.0.1:9/stats".into(), ..Default::default() }, log)
                .expect("client");
        let date = NaiveDate::from_ymd_opt(2024, 1, 5).expect("date");
        assert_eq!(
            client.game_finder_url(date).as_str(),
            "http://127.0.0.1:9/stats/leaguegamefinder?LeagueID=00&PlayerOrTeam=T&DateFrom=01%2F05%2F2024&DateTo=01%2F05%2F2024"
        );
        assert_eq!(
            client.box_score_url("0022300001").as_str(),
            "http://127.0.0.1:9/stats/boxscoretraditionalv3?GameID=0022300001&StartPeriod=0&EndPeriod=0&StartRange=0&EndRange=0&RangeType=0"
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        let (log, _) = Logger::capture("bronze-ingestion");
        let with = |base_url: &str, max_attempts| {
            NbaClient::new(ClientConfig { base_url: base_url.into(), max_attempts, ..Default::default() }, log.clone())
        };
        assert!(matches!(with("not a url", 5), Err(ClientError::BaseUrl { .. })));
        assert!(matches!(with("ftp://x/", 5), Err(ClientError::Scheme(_))));
        assert!(matches!(with(DEFAULT_BASE_URL, 0), Err(ClientError::NoAttempts)));
    }
}
