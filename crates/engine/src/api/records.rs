//! Access records: the calls the listener answered, newest first, as a list shows them, and
//! one record in full.

use super::Tripline;
use crate::error::ErrorBody;
use crate::store::{AccessRecord, RecordFilter, RecordSummary};

impl Tripline {
    /// A page of access records, newest first, without their headers, bodies, events and
    /// responses ([`Self::record`] has those).
    pub fn record_summaries(
        &self,
        filter: &RecordFilter<'_>,
    ) -> Result<Vec<RecordSummary>, ErrorBody> {
        Ok(self.store().access_record_summaries(filter)?)
    }

    /// A page of access records, newest first, each in full.
    pub fn records(&self, filter: &RecordFilter<'_>) -> Result<Vec<AccessRecord>, ErrorBody> {
        Ok(self.store().access_records(filter)?)
    }

    /// One access record with its request, event, decision and response.
    pub fn record(&self, id: i64) -> Result<AccessRecord, ErrorBody> {
        Ok(self.store().access_record(id)?)
    }
}
