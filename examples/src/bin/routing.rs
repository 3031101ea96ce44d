//! Routing a session to the phone network: through a Kallglot-managed number, an external
//! Twilio or Telnyx connection, or a SIP trunk or PBX.
//!
//! A session takes at most one route; [`Routing`] makes two unrepresentable. Without any,
//! the organization's default route applies. The server checks the details (an E.164
//! number the organization owns, a known connection) and names the field it refuses.
//!
//! Against a real server, set `KALLGLOT_PHONE_NUMBER` (a number of yours, `+1…`) and
//! `KALLGLOT_CONNECTION_ID` (`pcon_…`) to try those routes; the SIP and default routes
//! need nothing. Every session made here is ended again (each create costs a credit).

use kallglot::model::{
    CreateSessionParams, Direction, Language, Metadata, Mode, ProviderName, Routing, Session,
};
use kallglot::{Client, ErrorCode, Response};
use kallglot_examples::{Target, check};

/// Creates a session on `routing` (`None`: the default route), tagged with our ticket id.
async fn create(client: &Client, routing: Option<Routing>) -> kallglot::Result<Response<Session>> {
    let mut params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::ES, Language::EN)
        .metadata(Metadata::new().with("ticket", "T-1042"));
    if let Some(routing) = routing {
        params = params.routing(routing);
    }
    client.sessions().create(params).await
}

fn describe(what: &str, session: &Session) {
    println!(
        "{what}: {} via {} {}",
        session.id,
        session
            .provider
            .as_ref()
            .and_then(|p| p.name())
            .unwrap_or("the default carrier"),
        session.phone_number.as_deref().unwrap_or("")
    );
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;
    let client = &target.client;
    let emulated = target.is_emulated();
    let number = std::env::var("KALLGLOT_PHONE_NUMBER")
        .ok()
        .or_else(|| emulated.then(|| "+14155551234".into()));
    let connection = std::env::var("KALLGLOT_CONNECTION_ID")
        .ok()
        .or_else(|| emulated.then(|| "pcon_example".into()));
    let mut made = Vec::new();

    // An inbound call to one of your Kallglot-managed numbers.
    if let Some(number) = &number {
        let session = create(
            client,
            Some(Routing::phone_number(number).with_direction(Direction::Inbound)),
        )
        .await?;
        describe("managed number", &session);
        if emulated {
            check(
                session.phone_number.as_deref() == Some(number.as_str()),
                "the session is on that number",
            )?;
        }
        made.push(session.into_inner());
    }

    // An outbound call through your own Twilio or Telnyx account, connected in the Portal.
    if let Some(connection) = &connection {
        let session = create(
            client,
            Some(Routing::connection(connection).with_direction(Direction::Outbound)),
        )
        .await?;
        describe("external connection", &session);
        made.push(session.into_inner());
    }

    // A call from a PBX: create the session, then have the PBX bridge the call to the
    // session's SIP address.
    let sip = create(
        client,
        Some(Routing::sip().with_from_uri("sip:frontdesk@pbx.example.com")),
    )
    .await?;
    describe("SIP", &sip);
    println!("  bridge the call to sip:{}@sip.kallglot.com", sip.id);
    if emulated {
        let provider = sip.provider.as_ref().and_then(|p| p.name());
        check(
            provider == Some(ProviderName::Sip.as_str()),
            "a SIP session reports the sip provider",
        )?;
    }
    made.push(sip.into_inner());

    // No routing: the organization's default route.
    let default = create(client, None).await?;
    describe("default route", &default);
    let ticket = default
        .metadata
        .as_ref()
        .and_then(|m| m.get("ticket"))
        .and_then(|v| v.as_str());
    check(
        !emulated || ticket == Some("T-1042"),
        "the metadata comes back with the session",
    )?;
    made.push(default.into_inner());

    // A number that is not E.164 is refused, and the error names the field.
    match create(client, Some(Routing::phone_number("415-555-1234"))).await {
        Ok(session) => {
            made.push(session.into_inner());
            check(!emulated, "a number that is not E.164 is refused")?;
        }
        Err(error) => {
            let param = error.as_api().and_then(|api| api.param.clone());
            println!("refused: {error}");
            check(
                !emulated
                    || (error.code() == Some(&ErrorCode::InvalidRequest)
                        && param.as_deref() == Some("routing.phone_number")),
                "the refusal names routing.phone_number",
            )?;
        }
    }

    for session in &made {
        client.sessions().end(session.id.clone()).await?;
    }
    println!("ended the {} sessions made here", made.len());
    Ok(())
}
