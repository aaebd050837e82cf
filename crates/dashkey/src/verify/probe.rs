//! Sending the key: one HTTP client, every region at once, bounded in time and in size.
//!
//! [`Prober::probe_all`] asks every region at once, one thread each, so that the slowest
//! region sets the time rather than the sum of them. The key goes only into the
//! `Authorization` header, marked sensitive; redirects are not followed, plain `http` only
//! reaches loopback (checked when the [`RegionEndpoint`] was made), and loopback hosts are
//! always reached directly, never through the environment's proxy.

use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use ureq::http::{HeaderValue, Uri};
use zeroize::Zeroizing;

use super::classify::{Answer, Classification, classify, classify_error};
use super::{HttpSettings, Probe, VerifyError, Wait, check_url, is_coding};
use crate::key::ApiKey;
use crate::region::{ApiShape, Endpoint, RegionEndpoint};

/// Largest answer body read; a model list is a few kilobytes.
const MAX_BODY: u64 = 1 << 20;

/// A blocking HTTPS client set up for the check. Build one and reuse it.
#[derive(Debug, Clone)]
pub struct Prober {
    direct: ureq::Agent,
    proxied: ureq::Agent,
    proxy: Option<ureq::Proxy>,
    settings: HttpSettings,
}

impl Prober {
    /// A client with these timeouts and the proxy the process environment names.
    pub fn new(settings: HttpSettings) -> Prober {
        let proxy = ureq::Proxy::try_from_env();
        let agent = |proxy: Option<ureq::Proxy>| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .https_only(false)
                .timeout_global(Some(settings.timeout))
                .timeout_resolve(Some(settings.connect_timeout))
                .timeout_connect(Some(settings.connect_timeout))
                .user_agent(concat!("dashkey/", env!("CARGO_PKG_VERSION")))
                .accept("application/json")
                .proxy(proxy)
                .build()
                .new_agent()
        };
        Prober { direct: agent(None), proxied: agent(proxy.clone()), proxy, settings }
    }

    /// The timeouts in force.
    pub fn settings(&self) -> HttpSettings {
        self.settings
    }

    /// Checks the key in every target at once (one thread each); results in target order.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
    pub fn probe_all(
        &self,
        key: &ApiKey,
        targets: &[RegionEndpoint],
    ) -> Result<Vec<Probe>, VerifyError> {
        let header = authorization(key)?;
        Ok(thread::scope(|scope| {
            let running: Vec<_> = targets
                .iter()
                .map(|target| scope.spawn(|| self.probe_with(&header, target)))
                .collect();
            running
                .into_iter()
                .map(|handle| {
                    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        }))
    }

    /// Checks the key in every target at once, and stops waiting as `wait` says: with
    /// [`Wait::Grace`], once a target has accepted the key and the grace has passed, the
    /// targets still silent are [`Classification::Pending`]. Results in target order.
    ///
    /// The threads of pending targets are left to end by themselves, at their own timeout;
    /// their answers are dropped.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
    pub fn probe_until(
        &self,
        key: &ApiKey,
        targets: &[RegionEndpoint],
        wait: Wait,
    ) -> Result<Vec<Probe>, VerifyError> {
        let Wait::Grace(grace) = wait else { return self.probe_all(key, targets) };
        let header = authorization(key)?;
        let started = Instant::now();
        let (sender, answers) = mpsc::channel();
        let running: Vec<_> = targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let (prober, header, target) = (self.clone(), header.clone(), target.clone());
                let sender = sender.clone();
                thread::spawn(move || {
                    // The receiver is gone once the answer was decided without this one.
                    let _ = sender.send((index, prober.probe_with(&header, &target)));
                })
            })
            .collect();
        drop(sender);
        let mut probes: Vec<Option<Probe>> = vec![None; targets.len()];
        let mut deadline: Option<Instant> = None;
        loop {
            let received = match deadline {
                None => answers.recv().ok(),
                Some(deadline) => {
                    answers.recv_timeout(deadline.saturating_duration_since(Instant::now())).ok()
                }
            };
            // Every thread has answered (or the grace is over).
            let Some((index, probe)) = received else { break };
            if deadline.is_none() && probe.classification.is_accepted() {
                deadline = Some(Instant::now() + grace);
            }
            probes[index] = Some(probe);
        }
        for (probe, handle) in probes.iter().zip(running) {
            // A thread that ended without answering panicked: pass the panic on.
            if probe.is_none() && handle.is_finished() {
                handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
        }
        Ok(probes
            .into_iter()
            .zip(targets)
            .map(|(probe, target)| {
                probe.unwrap_or_else(|| Probe {
                    endpoint: target.clone(),
                    classification: Classification::Pending,
                    url: check_url(target),
                    api: ApiShape::Compatible,
                    elapsed: started.elapsed(),
                })
            })
            .collect())
    }

    /// Checks the key in one target.
    ///
    /// # Errors
    ///
    /// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
    pub fn probe(&self, key: &ApiKey, target: &RegionEndpoint) -> Result<Probe, VerifyError> {
        Ok(self.probe_with(&authorization(key)?, target))
    }

    fn probe_with(&self, header: &HeaderValue, target: &RegionEndpoint) -> Probe {
        let started = Instant::now();
        let compatible = check_url(target);
        let first =
            self.get(header, target, &compatible).map(|a| classify(&a, ApiShape::Compatible));
        let (api, url, classification) = match first {
            // A Coding Plan host has no native API to fall back to.
            Ok(None) if is_coding(target) => (
                ApiShape::Compatible,
                compatible,
                Classification::Unexpected {
                    status: Some(404),
                    detail: "this Coding Plan host has no model list at /v1/models (404)"
                        .to_string(),
                },
            ),
            Ok(Some(classification)) | Err(classification) => {
                (ApiShape::Compatible, compatible, classification)
            }
            // 404: not every gateway serves the compatible API; the native one decides.
            Ok(None) => {
                let native =
                    format!("{}/models?page_no=1&page_size=1", target.url(ApiShape::Native));
                let classification = match self.get(header, target, &native) {
                    Ok(answer) => classify(&answer, ApiShape::Native)
                        .expect("only the compatible API falls back"),
                    Err(classification) => classification,
                };
                (ApiShape::Native, native, classification)
            }
        };
        Probe { endpoint: target.clone(), classification, url, api, elapsed: started.elapsed() }
    }

    /// One GET; the answer, or the classification of the failure.
    fn get(
        &self,
        header: &HeaderValue,
        target: &RegionEndpoint,
        url: &str,
    ) -> Result<Answer, Classification> {
        let via_proxy = !target.is_loopback()
            && self.proxy.as_ref().is_some_and(|proxy| {
                url.parse::<Uri>().map_or(true, |uri| !proxy.is_no_proxy(&uri))
            });
        let agent = if via_proxy { &self.proxied } else { &self.direct };
        let host = Endpoint::parse(url).map(|endpoint| endpoint.host).unwrap_or_default();
        let failure = |error: ureq::Error| classify_error(&error, &host, via_proxy);
        let mut request = agent.get(url).header("Authorization", header.clone());
        // A workspace host is told which workspace, as the SDK's `Client()` tells it.
        if let Some(workspace) = &target.workspace {
            request = request.header("X-DashScope-WorkSpace", workspace.as_str());
        }
        let mut response = request.call().map_err(failure)?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body = if (300..400).contains(&status) {
            Vec::new()
        } else {
            response.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(failure)?
        };
        Ok(Answer { status, location, body })
    }
}

/// Checks the key in every target at once with a fresh [`Prober`].
///
/// # Errors
///
/// [`VerifyError`] when the key cannot be sent as it is; nothing is sent then.
pub fn probe_all(
    key: &ApiKey,
    targets: &[RegionEndpoint],
    settings: HttpSettings,
) -> Result<Vec<Probe>, VerifyError> {
    Prober::new(settings).probe_all(key, targets)
}

/// `Bearer <key>`, marked sensitive so that no `Debug` of the request shows it.
fn authorization(key: &ApiKey) -> Result<HeaderValue, VerifyError> {
    let value = key.expose();
    if value.is_empty() {
        return Err(VerifyError::EmptyKey);
    }
    // Visible ASCII only: what every HTTP stack sends unchanged.
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(VerifyError::UnsendableKey);
    }
    let bearer = Zeroizing::new(format!("Bearer {value}"));
    let mut header = HeaderValue::from_str(&bearer).map_err(|_| VerifyError::UnsendableKey)?;
    header.set_sensitive(true);
    Ok(header)
}
