//! "Try it on the sandbox": the seed's `demo` application, ready to be triggered.
//!
//! Creates (or reuses) the `demo` template from the seed's Deployment, the `demo`
//! application on the sandbox cluster, and a redeploy trigger, then deploys it. What exists
//! already is kept, so running it twice is harmless.

use serde::Serialize;

use super::Tripline;
use crate::app::{ClusterRef, NewApplication, Pin, Source};
use crate::error::ErrorBody;
use crate::store::{self, NewTrigger, Release};
use crate::trigger::{Trigger, TriggerKind};

/// The seed's Deployment (seed 000).
const TEMPLATE: &str = include_str!("demo.yaml");

/// What "Try it on the sandbox" made.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "camelCase")]
pub struct Demo {
    /// The application (`demo`).
    pub app: String,
    /// Its redeploy trigger.
    pub trigger: Trigger,
    /// The first deploy.
    pub release: Release,
}

impl Tripline {
    /// Sets up the demo application on the sandbox and deploys it.
    pub fn create_demo(&self) -> Result<Demo, ErrorBody> {
        let trigger = {
            let mut store = self.store();
            match store.create_template("demo", TEMPLATE, "the seed's demo Deployment") {
                Ok(_) | Err(store::Error::TemplateExists(_)) => {}
                Err(e) => return Err(ErrorBody::from(&e)),
            }
            match store.create_app(&NewApplication {
                name: "demo".into(),
                cluster: ClusterRef::Sandbox,
                namespace: "default".into(),
                source: Source::Template {
                    template: "demo".into(),
                    pin: Pin::Latest,
                },
                prune: false,
            }) {
                Ok(_) | Err(store::Error::AppExists(_)) => {}
                Err(e) => return Err(ErrorBody::from(&e)),
            }
            store
                .triggers(Some("demo"))?
                .into_iter()
                .find(|t| t.kind == TriggerKind::Redeploy)
        };
        let trigger = match trigger {
            Some(trigger) => trigger,
            None => self.create_trigger(&NewTrigger {
                name: "demo-redeploy".into(),
                app: "demo".into(),
                kind: TriggerKind::Redeploy,
                signed: false,
            })?,
        };
        let release = self.deploy("demo")?;
        Ok(Demo {
            app: "demo".into(),
            trigger,
            release,
        })
    }
}
