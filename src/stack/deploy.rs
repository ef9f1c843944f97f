//! A rolling deploy of phase 7's app servers onto a new image, without
//! dropping a request:
//!
//! 1. The new image's `million migrate` runs once, in a one-off container on
//!    the first app server's host, before any server changes. A migration
//!    must therefore work with the old code still running (expand first,
//!    contract in a later release: the README's "Deploys").
//! 2. Then one server at a time, through HAProxy's runtime API: `drain` (no
//!    new requests) → wait until it has none in flight → `maint` → graceful
//!    stop (SIGTERM: it finishes what it holds) → start the new image → wait
//!    until `/healthz` and `/readyz` answer → `ready` (HAProxy's `slowstart`
//!    ramps its share up over 10 s) → wait until HAProxy sees it up → next.
//!
//! A server that does not become healthy on the new image stops the roll:
//! it and every server already rolled get the old image back, the same way.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Stack;
use super::components::haproxy;
use super::state::Outcome;

/// How long a server may take to finish its requests once drained.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server on a new image may take to become healthy and ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long HAProxy may take to see a server back up (`rise 2`, 1 s apart).
const BACK_IN_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the migrations may take.
const MIGRATE_TIMEOUT: Duration = Duration::from_secs(600);
/// The one-off migration container's name in the stack.
pub(super) const MIGRATE: &str = "migrate";

impl Stack {
    /// Rolls every app server onto `image`; the outcome goes to the state
    /// file, where `million stack deploy` reads it.
    pub async fn deploy(&mut self, image: &str) -> anyhow::Result<()> {
        self.rollout.deploys += 1;
        self.rollout.rolling_to = Some(image.to_string());
        self.rollout.steps.clear();
        self.rollout.outcome = None;
        self.save_state(None);
        let outcome = match self.prepare(image).await {
            Err(error) => Outcome::Refused(format!("{error:#}")),
            Ok(old) => match self.roll(image, &old).await {
                Ok(()) => Outcome::Deployed,
                Err(error) => Outcome::RolledBack(format!("{error:#}")),
            },
        };
        match &outcome {
            Outcome::Deployed => {
                self.step(&format!("Every app server runs {image}."));
                let old = self.rollout.current.replace(image.to_string());
                if old.as_deref() != Some(image) {
                    self.rollout.previous = old;
                }
            }
            Outcome::RolledBack(why) => {
                self.step(&format!("Rolled back: {why}"));
            }
            Outcome::Refused(why) => self.step(&format!("Not deployed: {why}")),
        }
        self.rollout.rolling_to = None;
        self.rollout.outcome = Some(outcome);
        self.save_state(None);
        Ok(())
    }

    /// Records and says one step of the roll.
    fn step(&mut self, line: &str) {
        self.say(&format!("  deploy: {line}"));
        self.rollout.steps.push(line.to_string());
        self.save_state(None);
    }

    /// Checks that a roll can start and runs the new image's migrations.
    /// Returns the image the servers run now.
    async fn prepare(&mut self, image: &str) -> anyhow::Result<String> {
        let Some(old) = self.plan.apps.first().and_then(|app| app.image.clone()) else {
            bail!("the app servers do not run from an image: deploys are phase 7's (make phase7)");
        };
        super::containers::require_image(image)?;
        self.step(&format!(
            "{image}: migrations first (the old release keeps serving)"
        ));
        let started = Instant::now();
        let summary = self.migrate(image).await?;
        self.step(&format!(
            "{summary} ({:.1}s)",
            started.elapsed().as_secs_f64()
        ));
        Ok(old)
    }

    /// Runs `million migrate` from `image`, once, on the first app server's
    /// host and with its configuration.
    async fn migrate(&self, image: &str) -> anyhow::Result<String> {
        let command = super::components::app_container(
            &self.plan,
            &self.secrets,
            (0, MIGRATE),
            image,
            &["migrate"],
        )?;
        let mut command = tokio::process::Command::from(command);
        command.kill_on_drop(true);
        let output = match tokio::time::timeout(MIGRATE_TIMEOUT, command.output()).await {
            Ok(output) => output.context("starting the migration container")?,
            Err(_) => {
                // Killing `podman run` leaves the container: stop it too.
                super::containers::remove(&self.plan.state_dir, &[MIGRATE.to_string()]);
                bail!("the migrations ran over 10 minutes and were stopped; no server was touched");
            }
        };
        let said = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
        if !output.status.success() {
            bail!(
                "the migrations failed ({}), so no server was touched: {} {}",
                output.status,
                said(&output.stdout),
                said(&output.stderr)
            );
        }
        Ok(said(&output.stdout)
            .lines()
            .last()
            .unwrap_or("migrated")
            .to_string())
    }

    /// Rolls the app servers onto `image` one at a time; on a failure, puts
    /// `old` back on every server rolled so far, and on the one that failed.
    async fn roll(&mut self, image: &str, old: &str) -> anyhow::Result<()> {
        let count = self.plan.apps.len();
        if (0..count).all(|index| self.runs(index, image)) {
            self.step(&format!(
                "every app server already runs {image}: nothing to roll"
            ));
            return Ok(());
        }
        for index in 0..count {
            if self.runs(index, image) {
                continue;
            }
            if let Err(error) = self.replace(index, image).await {
                let name = self.plan.apps[index].name.clone();
                self.step(&format!(
                    "{name} failed on {image}: {error:#}. Putting {old} back."
                ));
                let mut down = Vec::new();
                for back in (0..=index).rev() {
                    if self.runs(back, old) {
                        // Never stopped: it only needs to take requests again.
                        self.back_in_rotation(back).await;
                        continue;
                    }
                    if let Err(again) = self.replace(back, old).await {
                        let name = self.plan.apps[back].name.clone();
                        self.step(&format!(
                            "{name} did not come back on {old} either: {again:#}; the supervisor \
                             keeps restarting it"
                        ));
                        self.restart_later(back);
                        down.push(name);
                    }
                }
                if down.is_empty() {
                    bail!("{name} was not healthy on {image} ({error:#}); every server runs {old}");
                }
                bail!(
                    "{name} was not healthy on {image} ({error:#}); every server runs {old} \
                     but {}, which {} down",
                    down.join(", "),
                    if down.len() == 1 { "is" } else { "are" }
                );
            }
        }
        Ok(())
    }

    /// Whether app server `index` is running `image`.
    fn runs(&self, index: usize, image: &str) -> bool {
        self.plan.apps[index].image.as_deref() == Some(image) && self.app_process(index).is_some()
    }

    /// Puts app server `index` back in HAProxy's rotation, if it is not
    /// (a roll that failed before stopping it). HAProxy's checks decide the rest.
    async fn back_in_rotation(&mut self, index: usize) {
        let name = self.plan.apps[index].name.clone();
        if let Err(error) =
            haproxy::command(&self.plan, &format!("set server app/{name} state ready")).await
        {
            self.step(&format!("could not put {name} back in rotation: {error:#}"));
        }
    }

    /// Leaves app server `index` to the supervisor's restarts.
    fn restart_later(&mut self, index: usize) {
        let name = &self.plan.apps[index].name;
        if let Some(component) = self
            .components
            .iter_mut()
            .find(|component| &component.name == name)
            && component.process.is_none()
        {
            component.restart_at = Some(Instant::now() + self.plan.restart_delay);
        }
    }

    /// The running process of app server `index`, if any.
    fn app_process(&self, index: usize) -> Option<u32> {
        let name = &self.plan.apps[index].name;
        self.components
            .iter()
            .find(|component| &component.name == name)
            .and_then(super::Component::pid)
    }

    /// Takes app server `index` out of rotation, restarts it on `image`, and
    /// puts it back once healthy.
    async fn replace(&mut self, index: usize, image: &str) -> anyhow::Result<()> {
        let name = self.plan.apps[index].name.clone();
        let component = self.index_of(&name)?;
        let started = Instant::now();
        if self.components[component].process.is_some() {
            let taken_out = async {
                haproxy::command(&self.plan, &format!("set server app/{name} state drain")).await?;
                let drained = self.drained(&name).await?;
                haproxy::command(&self.plan, &format!("set server app/{name} state maint")).await?;
                Ok::<String, anyhow::Error>(drained)
            };
            let drained = match taken_out.await {
                Ok(drained) => drained,
                Err(error) => {
                    // Still running the release it had: back in, as it was.
                    self.back_in_rotation(index).await;
                    return Err(error);
                }
            };
            self.step(&format!(
                "{name} drained ({drained}), stopping it gracefully"
            ));
            if let Some(process) = self.components[component].process.take() {
                process.stop(Duration::from_secs(30)).await;
            }
        } else {
            haproxy::command(&self.plan, &format!("set server app/{name} state maint")).await?;
        }
        self.plan.apps[index].image = Some(image.to_string());
        self.save_state(None);
        self.start_index_within(component, READY_TIMEOUT).await?;
        self.ready(index).await?;
        haproxy::command(&self.plan, &format!("set server app/{name} state ready")).await?;
        self.back_in(&name).await?;
        self.step(&format!(
            "{name} runs {image} and is back in rotation, ramping up over 10 s ({:.1}s)",
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Waits until server `name`, draining, has no request in flight or
    /// queued; says how long that took. After [`DRAIN_TIMEOUT`] it goes on:
    /// the graceful stop still lets the server finish what it holds.
    async fn drained(&self, name: &str) -> anyhow::Result<String> {
        let started = Instant::now();
        loop {
            let stat = haproxy::server_stat(&self.plan, name).await?;
            if stat.in_flight == 0 && stat.queued == 0 {
                return Ok(format!("{:.1}s", started.elapsed().as_secs_f64()));
            }
            if started.elapsed() > DRAIN_TIMEOUT {
                // Its graceful stop still lets it finish them.
                return Ok(format!(
                    "{} requests still in flight after {}s",
                    stat.in_flight,
                    DRAIN_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until app server `index` answers `/readyz` (its database too).
    async fn ready(&self, index: usize) -> anyhow::Result<()> {
        let address = self.plan.apps[index].address;
        let namespace = self.plan.namespace_of(address.ip());
        let started = Instant::now();
        while started.elapsed() < READY_TIMEOUT {
            if super::network::http_status(namespace.as_deref(), address, "/readyz").await
                == Some(200)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!(
            "{} answered /healthz but not /readyz within {}s",
            self.plan.apps[index].name,
            READY_TIMEOUT.as_secs()
        )
    }

    /// Waits until HAProxy's own checks see server `name` up.
    async fn back_in(&self, name: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            let stat = haproxy::server_stat(&self.plan, name).await?;
            if stat.status == "UP" {
                return Ok(());
            }
            if started.elapsed() > BACK_IN_TIMEOUT {
                bail!(
                    "HAProxy still sees {name} as {} after {}s",
                    stat.status,
                    BACK_IN_TIMEOUT.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
