//! Releases: an application's timeline and one release's details; deploying an
//! application's newest template version and rolling back to an older one (both queued on
//! the application's worker; progress follows as deploy events, or through [`Deploying`] for
//! a front end that follows one release to its end).

use tokio::sync::broadcast;

use super::Tripline;
use crate::deploy::Options;
use crate::deploy::worker::{DeployEvent, Event, Workers};
use crate::error::ErrorBody;
use crate::store::{Cause, Release, SaveOutcome};

/// A queued release and its progress, for a front end that follows it to its end (the
/// command line).
#[derive(Debug)]
pub struct Deploying {
    /// The release, as queued.
    pub release: Release,
    events: broadcast::Receiver<DeployEvent>,
    finished: bool,
}

impl Deploying {
    /// The release's next event; `None` once it finished (or the workers stopped).
    pub async fn next(&mut self) -> Option<Event> {
        if self.finished {
            return None;
        }
        loop {
            match self.events.recv().await {
                Ok(event) if event.release == self.release.id => {
                    self.finished = matches!(event.event, Event::Finished { .. });
                    return Some(event.event);
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }
}

impl Tripline {
    /// The application's newest releases, newest first (at most `limit`).
    pub fn releases(&self, app: &str, limit: usize) -> Result<Vec<Release>, ErrorBody> {
        Ok(self.store().releases(app, limit)?)
    }

    /// One release, with its per-object outcomes and diff.
    pub fn release(&self, id: i64) -> Result<Release, ErrorBody> {
        Ok(self.store().release(id)?)
    }

    /// Queues a deploy of the application's newest template version; progress follows as
    /// deploy events.
    pub fn deploy(&self, app: &str) -> Result<Release, ErrorBody> {
        submit(
            self.workers()?,
            app,
            &self.user_cause(),
            &Options::default(),
        )
    }

    /// Queues a deploy with `options`, reaching the application's cluster and starting the
    /// workers first when this Tripline was opened for one command, and follows it.
    pub async fn deploy_with(&self, app: &str, options: &Options) -> Result<Deploying, ErrorBody> {
        let workers = self.workers_of(app).await?;
        follow(workers, app, &self.user_cause(), options)
    }

    /// Makes a new template version equal to version `to` and deploys it.
    pub fn rollback(&self, app: &str, to: u32) -> Result<Release, ErrorBody> {
        self.rollback_template_of(app, to)?;
        submit(
            self.workers()?,
            app,
            &self.rollback_cause(to),
            &Options::default(),
        )
    }

    /// [`Self::rollback`] with `options`, followed: the application's cluster is reached
    /// first, so a cluster that cannot be reached leaves the template as it was. Returns the
    /// version the rollback made (or found) beside the release.
    pub async fn rollback_with(
        &self,
        app: &str,
        to: u32,
        options: &Options,
    ) -> Result<(SaveOutcome, Deploying), ErrorBody> {
        let workers = self.workers_of(app).await?;
        let outcome = self.rollback_template_of(app, to)?;
        let deploying = follow(workers, app, &self.rollback_cause(to), options)?;
        Ok((outcome, deploying))
    }

    /// The workers, started for the application's cluster if they were not yet.
    async fn workers_of(&self, app: &str) -> Result<&Workers, ErrorBody> {
        let cluster = self.store().app(app)?.cluster;
        self.workers_for(&cluster).await
    }

    /// Makes the application's template's newest version equal to version `to`.
    fn rollback_template_of(&self, app: &str, to: u32) -> Result<SaveOutcome, ErrorBody> {
        let mut store = self.store();
        let application = store.app(app)?;
        let template = application.source.template().unwrap_or_default().to_owned();
        Ok(store.rollback(&template, to, &format!("rollback of application {app}"))?)
    }

    fn user_cause(&self) -> Cause {
        Cause::User {
            via: self.via().into(),
        }
    }

    fn rollback_cause(&self, to: u32) -> Cause {
        Cause::Rollback {
            to,
            via: self.via().into(),
        }
    }
}

fn submit(
    workers: &Workers,
    app: &str,
    cause: &Cause,
    options: &Options,
) -> Result<Release, ErrorBody> {
    workers.submit(app, cause, options).map_err(ErrorBody::from)
}

/// Submits with a subscription taken first, so that no event of the release is missed.
fn follow(
    workers: &Workers,
    app: &str,
    cause: &Cause,
    options: &Options,
) -> Result<Deploying, ErrorBody> {
    let events = workers.subscribe();
    let release = submit(workers, app, cause, options)?;
    Ok(Deploying {
        release,
        events,
        finished: false,
    })
}
