//! Releases: an application's timeline and one release's details; deploying an
//! application's newest template version and rolling back to an older one (both queued on
//! the application's worker; progress follows as deploy events).

use super::Tripline;
use crate::deploy::Options;
use crate::error::ErrorBody;
use crate::store::{Cause, Release};

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
        let cause = Cause::User {
            via: self.via().into(),
        };
        self.workers()
            .submit(app, &cause, &Options::default())
            .map_err(ErrorBody::from)
    }

    /// Makes a new template version equal to version `to` and deploys it.
    pub fn rollback(&self, app: &str, to: u32) -> Result<Release, ErrorBody> {
        {
            let mut store = self.store();
            let application = store.app(app)?;
            let template = application.source.template().unwrap_or_default().to_owned();
            store.rollback(&template, to, &format!("rollback of application {app}"))?;
        }
        let cause = Cause::Rollback {
            to,
            via: self.via().into(),
        };
        self.workers()
            .submit(app, &cause, &Options::default())
            .map_err(ErrorBody::from)
    }
}
