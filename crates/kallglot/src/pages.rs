//! Walking a paginated list page by page, as a `Stream` of its items.

use futures_util::{Stream, TryStreamExt, stream};

use crate::client::Client;
use crate::error::{DecodeError, Error, Result};
use crate::ids::SessionId;
use crate::model::{Recording, RecordingListParams};

/// Every recording of `session`, from the page `first` names; see
/// [`Sessions::recordings_stream`](crate::Sessions::recordings_stream).
pub(crate) fn recordings(
    client: Client,
    session: SessionId,
    first: RecordingListParams,
) -> impl Stream<Item = Result<Recording>> + Send + 'static {
    stream::try_unfold(Some(first), move |next| {
        let (client, session) = (client.clone(), session.clone());
        async move {
            let Some(params) = next else {
                return Ok(None);
            };
            let (page, meta) = client
                .sessions()
                .list_recordings(session, params.clone())
                .await?
                .into_parts();
            let next = match (page.has_more, page.data.last()) {
                (Some(true), Some(last)) if params.starting_after.as_ref() == Some(&last.id) => {
                    return Err(Error::Decode(Box::new(DecodeError {
                        operation: kallglot_api::catalogue::LIST_SESSION_RECORDINGS.id,
                        message: format!(
                            "the page after {} ends with {0} again and says has_more: the \
                             server does not seem to honour the starting_after cursor",
                            last.id
                        ),
                        body_snippet: String::new(),
                        meta,
                        idempotency_key: None,
                    })));
                }
                (Some(true), Some(last)) => Some(params.starting_after(last.id.clone())),
                // No `has_more` (current responses), `false`, or nothing to continue from.
                _ => None,
            };
            Ok(Some((stream::iter(page.data.into_iter().map(Ok)), next)))
        }
    })
    .try_flatten()
}
