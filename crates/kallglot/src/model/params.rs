//! Request parameters: creating a session and requesting an analysis.
//!
//! Only what the caller sets is sent. Kallglot applies its own defaults to
//! omitted fields (detected languages, the organization's default route…),
//! and sending a guessed default instead would override them.
//!
//! [`CreateSessionParams`] and [`CreateAnalysisParams`] are `Serialize` and
//! `Deserialize` as their request body (to queue a request, or keep it in
//! configuration). Deserializing checks like the builders do: language codes
//! must be well formed and a routing object must name one route. Empty
//! metadata and empty tool parameters are not sent, so they read back as
//! none.

use kallglot_api::types;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::{Language, Metadata, Mode};
use crate::ids::RecordingId;
use crate::open_enum::open_enum;

/// Parameters for creating a session.
///
/// Only the mode is required; everything else is sent only when set:
///
/// ```
/// use kallglot::model::{CreateSessionParams, Language, Metadata, Mode, Routing};
///
/// let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
///     .languages(Language::EN, Language::ES)
///     .routing(Routing::phone_number("+14155551234"))
///     .metadata(Metadata::new().with("crm_ticket", "T-1042"));
/// # let _ = params;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSessionParams {
    mode: Mode,
    source_language: Option<Language>,
    target_language: Option<Language>,
    routing: Option<Routing>,
    metadata: Option<Metadata>,
    ai_agent: Option<AiAgentConfig>,
}

impl CreateSessionParams {
    /// Parameters for a session in `mode`, with nothing else set.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            source_language: None,
            target_language: None,
            routing: None,
            metadata: None,
            ai_agent: None,
        }
    }

    /// Sets party A's language. When omitted, the server detects it.
    #[must_use]
    pub fn source_language(mut self, language: Language) -> Self {
        self.source_language = Some(language);
        self
    }

    /// Sets party B's language. When omitted, the server detects it.
    #[must_use]
    pub fn target_language(mut self, language: Language) -> Self {
        self.target_language = Some(language);
        self
    }

    /// Sets both languages at once: party A's, then party B's.
    ///
    /// Which party is the agent is not documented; older Kallglot examples
    /// used the customer's language as the source and the agent's as the
    /// target.
    #[must_use]
    pub fn languages(self, source: Language, target: Language) -> Self {
        self.source_language(source).target_language(target)
    }

    /// Sets how the session reaches the phone network.
    ///
    /// When no routing is set, none is sent and Kallglot uses the
    /// organization's default route (its default active external
    /// connection, if any). The SDK never picks a route on its own.
    #[must_use]
    pub fn routing(mut self, routing: Routing) -> Self {
        self.routing = Some(routing);
        self
    }

    /// Attaches your own data, echoed back on the session. Empty metadata
    /// is not sent.
    #[must_use]
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Configures the voice agent, for the [`Mode::AiAgent`] mode.
    #[must_use]
    pub fn ai_agent(mut self, config: AiAgentConfig) -> Self {
        self.ai_agent = Some(config);
        self
    }

    /// The JSON body this sends, exactly as it goes on the wire (for logging, or for
    /// [`Client::request`](crate::Client::request)).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_api()).expect("request bodies always serialize")
    }

    pub(crate) fn to_api(&self) -> types::CreateSessionRequest {
        types::CreateSessionRequest {
            mode: self.mode.as_str().to_owned(),
            source_language: self.source_language.as_ref().map(|l| l.as_str().to_owned()),
            target_language: self.target_language.as_ref().map(|l| l.as_str().to_owned()),
            routing: self.routing.as_ref().map(Routing::to_api),
            // The generated type omits an empty map, which is also how
            // `None` is expressed.
            metadata: self
                .metadata
                .as_ref()
                .map(|m| m.as_map().clone())
                .unwrap_or_default(),
            ai_agent: self.ai_agent.as_ref().map(AiAgentConfig::to_api),
        }
    }
}

impl Serialize for CreateSessionParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_api().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CreateSessionParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = types::CreateSessionRequest::deserialize(deserializer)?;
        let language = |code: Option<String>| {
            code.map(|c| Language::new(&c).map_err(D::Error::custom))
                .transpose()
        };
        Ok(Self {
            mode: Mode::from(v.mode),
            source_language: language(v.source_language)?,
            target_language: language(v.target_language)?,
            routing: v
                .routing
                .map(Routing::from_api)
                .transpose()
                .map_err(D::Error::custom)?,
            metadata: (!v.metadata.is_empty()).then(|| Metadata::from(v.metadata)),
            ai_agent: v.ai_agent.map(AiAgentConfig::from_api),
        })
    }
}

open_enum! {
    /// A hint for the direction of the call.
    pub enum Direction: kallglot_api::catalogue::SESSION_ROUTING_DIRECTION {
        /// The call comes in to you.
        Inbound = "inbound",
        /// You place the call.
        Outbound = "outbound",
    }
}

/// How a session reaches the phone network.
///
/// The API accepts exactly one routing method per session; an enum makes
/// giving two unrepresentable. Build values with
/// [`phone_number`](Self::phone_number), [`connection`](Self::connection)
/// or [`sip`](Self::sip). To use the organization's default route, set no
/// routing at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Routing {
    /// A Kallglot-managed number, which must be active and owned by the
    /// organization; the carrier is resolved from its configuration.
    #[non_exhaustive]
    PhoneNumber {
        /// The number in E.164 form, such as `+14155551234`.
        number: String,
        /// A hint for the call direction.
        direction: Option<Direction>,
    },
    /// An external Twilio or Telnyx connection set up in the Kallglot
    /// portal. Name it explicitly when the organization has several.
    #[non_exhaustive]
    Connection {
        /// The connection's id (`pcon_…`).
        connection_id: String,
        /// A hint for the call direction.
        direction: Option<Direction>,
    },
    /// A SIP trunk or PBX: create the session, then bridge the call to
    /// `sip:<session_id>@sip.kallglot.com`.
    #[non_exhaustive]
    Sip {
        /// The SIP From URI, if known.
        from_uri: Option<String>,
    },
}

impl Routing {
    /// Routes through a Kallglot-managed number (E.164, e.g.
    /// `+14155551234`). The number is not validated here; the server
    /// checks it against the organization's numbers.
    pub fn phone_number(number: impl Into<String>) -> Self {
        Self::PhoneNumber {
            number: number.into(),
            direction: None,
        }
    }

    /// Routes through an external connection (`pcon_…`).
    pub fn connection(connection_id: impl Into<String>) -> Self {
        Self::Connection {
            connection_id: connection_id.into(),
            direction: None,
        }
    }

    /// Routes a call bridged from a SIP trunk or PBX.
    pub fn sip() -> Self {
        Self::Sip { from_uri: None }
    }

    /// Adds a direction hint to a phone-number or connection route.
    ///
    /// SIP routes have no documented direction, so on them this does
    /// nothing.
    #[must_use]
    pub fn with_direction(mut self, new_direction: Direction) -> Self {
        match &mut self {
            Self::PhoneNumber { direction, .. } | Self::Connection { direction, .. } => {
                *direction = Some(new_direction);
            }
            Self::Sip { .. } => {}
        }
        self
    }

    /// Sets the SIP From URI of a SIP route.
    ///
    /// Only SIP routes have one, so on other routes this does nothing.
    #[must_use]
    pub fn with_from_uri(mut self, uri: impl Into<String>) -> Self {
        if let Self::Sip { from_uri } = &mut self {
            *from_uri = Some(uri.into());
        }
        self
    }

    /// The route a request body names, refusing one that names none.
    fn from_api(v: types::SessionRouting) -> Result<Self, &'static str> {
        let direction = v.direction.map(Direction::from);
        match (v.phone_number, v.connection_id, v.type_.as_deref()) {
            (Some(number), None, None) => Ok(Self::PhoneNumber { number, direction }),
            (None, Some(connection_id), None) => Ok(Self::Connection {
                connection_id,
                direction,
            }),
            (None, None, Some("sip")) => Ok(Self::Sip {
                from_uri: v.sip.and_then(|sip| sip.from_uri),
            }),
            _ => Err("routing must name exactly one of phone_number, connection_id or type: sip"),
        }
    }

    fn to_api(&self) -> types::SessionRouting {
        let direction = |d: &Option<Direction>| d.as_ref().map(|d| d.as_str().to_owned());
        match self {
            Self::PhoneNumber {
                number,
                direction: dir,
            } => types::SessionRouting {
                phone_number: Some(number.clone()),
                direction: direction(dir),
                ..Default::default()
            },
            Self::Connection {
                connection_id,
                direction: dir,
            } => types::SessionRouting {
                connection_id: Some(connection_id.clone()),
                direction: direction(dir),
                ..Default::default()
            },
            Self::Sip { from_uri } => types::SessionRouting {
                type_: Some("sip".to_owned()),
                // Without a From URI there is nothing to say about SIP, so
                // the `sip` object is left out rather than sent empty.
                sip: from_uri.as_ref().map(|uri| types::SipRouting {
                    from_uri: Some(uri.clone()),
                }),
                ..Default::default()
            },
        }
    }
}

/// Configuration of the voice agent, for the [`Mode::AiAgent`] mode.
///
/// Kallglot shows these fields as an illustration rather than a complete
/// reference, and applies its own defaults to any left unset, so only the
/// fields set are sent. Build it with the methods, or start from
/// `AiAgentConfig::default()` and assign the public fields.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AiAgentConfig {
    /// Instructions for the agent.
    pub system_prompt: Option<String>,
    /// A voice id, such as `alloy`, `echo`, `fable`, `onyx` or `nova`. The
    /// full list is not documented.
    pub voice: Option<String>,
    /// The sampling temperature, for example `0.7`.
    pub temperature: Option<f64>,
    /// A knowledge base the agent may consult (`kb_…`).
    pub knowledge_base_id: Option<String>,
    /// Tools the agent may call.
    pub tools: Vec<AiAgentTool>,
}

impl AiAgentConfig {
    /// A configuration with nothing set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the agent's instructions.
    #[must_use]
    pub fn system_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.system_prompt = Some(prompt.into());
        self
    }

    /// Sets the voice id.
    #[must_use]
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }

    /// Sets the sampling temperature. Its valid range is not documented, so
    /// it is not checked here.
    #[must_use]
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the knowledge base (`kb_…`).
    #[must_use]
    pub fn knowledge_base_id(mut self, id: impl Into<String>) -> Self {
        self.knowledge_base_id = Some(id.into());
        self
    }

    /// Adds a tool.
    #[must_use]
    pub fn tool(mut self, tool: AiAgentTool) -> Self {
        self.tools.push(tool);
        self
    }

    fn from_api(v: types::AiAgentConfig) -> Self {
        Self {
            system_prompt: v.system_prompt,
            voice: v.voice,
            temperature: v.temperature,
            knowledge_base_id: v.knowledge_base_id,
            tools: v.tools.into_iter().map(AiAgentTool::from_api).collect(),
        }
    }

    fn to_api(&self) -> types::AiAgentConfig {
        types::AiAgentConfig {
            system_prompt: self.system_prompt.clone(),
            voice: self.voice.clone(),
            temperature: self.temperature,
            knowledge_base_id: self.knowledge_base_id.clone(),
            tools: self.tools.iter().map(AiAgentTool::to_api).collect(),
        }
    }
}

/// A tool the voice agent may call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AiAgentTool {
    /// The tool's name.
    pub name: String,
    /// What the tool does, for the model.
    pub description: Option<String>,
    /// A JSON Schema object describing the tool's arguments. An empty
    /// object is not sent, like `None`.
    pub parameters: Option<Map<String, Value>>,
}

impl AiAgentTool {
    /// A tool named `name`, without description or parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            parameters: None,
        }
    }

    /// Sets what the tool does.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the JSON Schema of the tool's arguments.
    #[must_use]
    pub fn parameters(mut self, schema: Map<String, Value>) -> Self {
        self.parameters = Some(schema);
        self
    }

    fn from_api(v: types::AiAgentTool) -> Self {
        Self {
            name: v.name,
            description: v.description,
            parameters: (!v.parameters.is_empty()).then_some(v.parameters),
        }
    }

    fn to_api(&self) -> types::AiAgentTool {
        types::AiAgentTool {
            name: self.name.clone(),
            description: self.description.clone(),
            parameters: self.parameters.clone().unwrap_or_default(),
        }
    }
}

open_enum! {
    /// A part of an analysis to compute.
    pub enum AnalysisPart: kallglot_api::catalogue::CREATE_ANALYSIS_REQUEST_INCLUDE {
        /// A summary of the conversation.
        Summary = "summary",
        /// Each party's sentiment.
        Sentiment = "sentiment",
        /// A compliance check.
        Compliance = "compliance",
        /// Keywords. No response field for them is documented yet.
        Keywords = "keywords",
        /// A score of the agent's performance.
        Performance = "performance",
    }
}

/// Parameters for requesting an analysis of a session.
///
/// Kallglot does not document which parts are computed when `include` is
/// omitted, so name the parts you need with
/// [`include`](Self::include) rather than relying on the server's default.
///
/// ```
/// use kallglot::model::{AnalysisPart, CreateAnalysisParams};
///
/// let params = CreateAnalysisParams::new()
///     .include([AnalysisPart::Summary, AnalysisPart::Sentiment]);
/// # let _ = params;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateAnalysisParams {
    profile: Option<String>,
    include: Vec<AnalysisPart>,
}

impl CreateAnalysisParams {
    /// Parameters with nothing set: the server's default profile (`default`)
    /// and its undocumented default parts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the analysis profile. When omitted the server uses `default`.
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Adds parts to compute, keeping the order given and skipping parts
    /// already included. If no part is added, `include` is not sent and the
    /// server's undocumented default applies.
    #[must_use]
    pub fn include(mut self, parts: impl IntoIterator<Item = AnalysisPart>) -> Self {
        for part in parts {
            if !self.include.contains(&part) {
                self.include.push(part);
            }
        }
        self
    }

    /// The JSON body this sends, exactly as it goes on the wire.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_api()).expect("request bodies always serialize")
    }

    pub(crate) fn to_api(&self) -> types::CreateAnalysisRequest {
        types::CreateAnalysisRequest {
            profile: self.profile.clone(),
            include: self
                .include
                .iter()
                .map(|part| part.as_str().to_owned())
                .collect(),
        }
    }
}

impl Serialize for CreateAnalysisParams {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_api().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CreateAnalysisParams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let v = types::CreateAnalysisRequest::deserialize(deserializer)?;
        let params = Self {
            profile: v.profile,
            include: Vec::new(),
        };
        Ok(params.include(
            v.include
                .iter()
                .map(|part| AnalysisPart::from(part.as_str())),
        ))
    }
}

/// The most items a page of a list may hold, in the legacy documentation's rules.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) const MAX_PAGE_LIMIT: u32 = 100;

/// Which page of a session's recordings to list.
///
/// The current API reference calls the list cursor-paginated but names no parameters, so
/// these use the names of the legacy documentation: `limit` (1 to 100; the server's
/// default is 20) and `starting_after` (the id of the last recording of the previous
/// page). A server that does not know them returns the whole list, which is correct too.
///
/// ```
/// use kallglot::model::RecordingListParams;
///
/// let next = RecordingListParams::new().limit(50).starting_after("rec_01HABC");
/// # let _ = next;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordingListParams {
    pub(crate) limit: Option<u32>,
    pub(crate) starting_after: Option<RecordingId>,
}

impl RecordingListParams {
    /// No parameters: the server's first page of its default size.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many recordings a page holds, 1 to 100. Another value fails the call with
    /// [`ConfigError::InvalidRequest`](crate::ConfigError::InvalidRequest) before
    /// anything is sent.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Lists the recordings after this one: the last id of the previous page.
    #[must_use]
    pub fn starting_after(mut self, id: impl Into<RecordingId>) -> Self {
        self.starting_after = Some(id.into());
        self
    }

    /// Checks the limit's range.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn check(&self) -> Result<(), crate::ConfigError> {
        match self.limit {
            Some(limit) if !(1..=MAX_PAGE_LIMIT).contains(&limit) => {
                Err(crate::ConfigError::InvalidRequest(format!(
                    "the page limit must be 1 to {MAX_PAGE_LIMIT}, not {limit}"
                )))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session_body(params: &CreateSessionParams) -> Value {
        serde_json::to_value(params.to_api()).unwrap()
    }

    fn analysis_body(params: &CreateAnalysisParams) -> Value {
        serde_json::to_value(params.to_api()).unwrap()
    }

    #[test]
    fn minimal_session_body() {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation);
        assert_eq!(
            serde_json::to_string(&params.to_api()).unwrap(),
            r#"{"mode":"bidirectional_translation"}"#
        );
    }

    #[test]
    fn every_mode_is_sent_as_its_wire_value() {
        for wire in Mode::WIRE_VALUES {
            let params = CreateSessionParams::new(Mode::parse(wire));
            assert_eq!(session_body(&params), json!({"mode": wire}));
        }
    }

    #[test]
    fn unknown_mode_is_sent_verbatim() {
        let params = CreateSessionParams::new(Mode::from("future_mode"));
        assert_eq!(session_body(&params), json!({"mode": "future_mode"}));
    }

    #[test]
    fn languages() {
        let both = CreateSessionParams::new(Mode::AssistiveTranslation)
            .languages(Language::DE, Language::new("pt-br").unwrap());
        assert_eq!(
            session_body(&both),
            json!({
                "mode": "assistive_translation",
                "source_language": "de",
                "target_language": "pt-BR"
            })
        );
        let target_only =
            CreateSessionParams::new(Mode::BidirectionalTranslation).target_language(Language::FR);
        assert_eq!(
            session_body(&target_only),
            json!({"mode": "bidirectional_translation", "target_language": "fr"})
        );
        let source_only =
            CreateSessionParams::new(Mode::BidirectionalTranslation).source_language(Language::EN);
        assert_eq!(
            session_body(&source_only),
            json!({"mode": "bidirectional_translation", "source_language": "en"})
        );
    }

    fn routing_body(routing: Routing) -> Value {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation).routing(routing);
        let mut body = session_body(&params);
        assert_eq!(body["mode"], "bidirectional_translation");
        body.as_object_mut().unwrap().remove("mode");
        body
    }

    #[test]
    fn phone_number_routing() {
        assert_eq!(
            routing_body(Routing::phone_number("+14155551234")),
            json!({"routing": {"phone_number": "+14155551234"}})
        );
        assert_eq!(
            routing_body(Routing::phone_number("+14155551234").with_direction(Direction::Outbound)),
            json!({"routing": {"phone_number": "+14155551234", "direction": "outbound"}})
        );
    }

    #[test]
    fn connection_routing() {
        assert_eq!(
            routing_body(Routing::connection("pcon_1")),
            json!({"routing": {"connection_id": "pcon_1"}})
        );
        assert_eq!(
            routing_body(Routing::connection("pcon_1").with_direction(Direction::Inbound)),
            json!({"routing": {"connection_id": "pcon_1", "direction": "inbound"}})
        );
        assert_eq!(
            routing_body(Routing::connection("pcon_1").with_direction(Direction::from("transfer"))),
            json!({"routing": {"connection_id": "pcon_1", "direction": "transfer"}})
        );
    }

    #[test]
    fn sip_routing() {
        assert_eq!(
            routing_body(Routing::sip()),
            json!({"routing": {"type": "sip"}})
        );
        assert_eq!(
            routing_body(Routing::sip().with_from_uri("sip:alice@pbx.example.com")),
            json!({"routing": {"type": "sip", "sip": {"from_uri": "sip:alice@pbx.example.com"}}})
        );
    }

    #[test]
    fn routing_modifiers_only_apply_where_they_make_sense() {
        assert_eq!(
            Routing::sip().with_direction(Direction::Inbound),
            Routing::sip()
        );
        assert_eq!(
            Routing::phone_number("+1").with_from_uri("sip:x"),
            Routing::phone_number("+1")
        );
        assert_eq!(
            Routing::connection("pcon_1").with_from_uri("sip:x"),
            Routing::connection("pcon_1")
        );
    }

    #[test]
    fn last_routing_wins() {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
            .routing(Routing::phone_number("+1"))
            .routing(Routing::sip());
        assert_eq!(session_body(&params)["routing"], json!({"type": "sip"}));
    }

    #[test]
    fn metadata() {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation).metadata(
            Metadata::new()
                .with("crm_ticket", "T-1042")
                .with("tags", json!(["vip", 1])),
        );
        assert_eq!(
            session_body(&params),
            json!({
                "mode": "bidirectional_translation",
                "metadata": {"crm_ticket": "T-1042", "tags": ["vip", 1]}
            })
        );
        let empty =
            CreateSessionParams::new(Mode::BidirectionalTranslation).metadata(Metadata::new());
        assert_eq!(
            session_body(&empty),
            json!({"mode": "bidirectional_translation"})
        );
    }

    #[test]
    fn ai_agent() {
        let schema = json!({
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"]
        });
        let params = CreateSessionParams::new(Mode::AiAgent).ai_agent(
            AiAgentConfig::new()
                .system_prompt("Be brief.")
                .voice("alloy")
                .temperature(0.7)
                .knowledge_base_id("kb_1")
                .tool(
                    AiAgentTool::new("lookup_order")
                        .description("Finds an order")
                        .parameters(schema.as_object().unwrap().clone()),
                )
                .tool(AiAgentTool::new("hang_up")),
        );
        assert_eq!(
            session_body(&params),
            json!({
                "mode": "ai_agent",
                "ai_agent": {
                    "system_prompt": "Be brief.",
                    "voice": "alloy",
                    "temperature": 0.7,
                    "knowledge_base_id": "kb_1",
                    "tools": [
                        {"name": "lookup_order", "description": "Finds an order", "parameters": schema},
                        {"name": "hang_up"}
                    ]
                }
            })
        );

        let empty = CreateSessionParams::new(Mode::AiAgent).ai_agent(AiAgentConfig::default());
        assert_eq!(
            session_body(&empty),
            json!({"mode": "ai_agent", "ai_agent": {}})
        );

        // Public fields work as an alternative to the builder.
        let mut config = AiAgentConfig::new().temperature(0.2);
        config.voice = Some("nova".into());
        assert_eq!(config, AiAgentConfig::new().temperature(0.2).voice("nova"));
    }

    #[test]
    fn full_session_body() {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
            .languages(Language::EN, Language::ES)
            .routing(Routing::connection("pcon_1").with_direction(Direction::Inbound))
            .metadata(Metadata::new().with("k", "v"));
        assert_eq!(
            session_body(&params),
            json!({
                "mode": "bidirectional_translation",
                "source_language": "en",
                "target_language": "es",
                "routing": {"connection_id": "pcon_1", "direction": "inbound"},
                "metadata": {"k": "v"}
            })
        );
    }

    #[test]
    fn analysis_bodies() {
        assert_eq!(
            serde_json::to_string(&CreateAnalysisParams::new().to_api()).unwrap(),
            "{}"
        );
        assert_eq!(
            analysis_body(&CreateAnalysisParams::default().profile("support")),
            json!({"profile": "support"})
        );
        assert_eq!(
            analysis_body(
                &CreateAnalysisParams::new()
                    .profile("default")
                    .include([AnalysisPart::Summary, AnalysisPart::Sentiment])
                    .include([
                        AnalysisPart::Sentiment,
                        AnalysisPart::Compliance,
                        AnalysisPart::Keywords,
                        AnalysisPart::Performance,
                        AnalysisPart::from("topics"),
                    ])
            ),
            json!({
                "profile": "default",
                "include": ["summary", "sentiment", "compliance", "keywords", "performance", "topics"]
            })
        );
        assert_eq!(
            analysis_body(&CreateAnalysisParams::new().include([])),
            json!({})
        );
    }

    #[test]
    fn part_and_direction_wire_values() {
        assert_eq!(
            AnalysisPart::WIRE_VALUES,
            [
                "summary",
                "sentiment",
                "compliance",
                "keywords",
                "performance"
            ]
        );
        assert_eq!(Direction::WIRE_VALUES, ["inbound", "outbound"]);
    }
}
