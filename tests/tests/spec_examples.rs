//! The API's own examples in the spec deserialize into the SDK's models, round-trip, and
//! serialize back to the example. It lives here, not in `kallglot`'s tests, because it reads
//! `openapi/kallglot.yaml`, which is not part of the published `kallglot` package.

use kallglot::model::{Analysis, EndedSession, Recording, RecordingList, Session, Transcript};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use xtask::spec;

/// The JSON with nulls and empty arrays dropped: the API writes absent values either
/// way, the SDK leaves them out.
fn without_empties(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()))
                .map(|(k, v)| (k, without_empties(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_empties).collect()),
        other => other,
    }
}

/// Deserializes `example` as `T`, checks the round trip, and that serializing gives the
/// example back.
fn example_round_trip<T>(operation: &str, example: &Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let model: T = serde_json::from_value(example.clone())
        .unwrap_or_else(|e| panic!("{operation}: {e}\n{example}"));
    let json = serde_json::to_value(&model).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, model, "{operation}: the round trip changed the model");
    assert_eq!(
        without_empties(json),
        without_empties(example.clone()),
        "{operation}"
    );
}

#[test]
fn every_json_example_of_the_spec_round_trips_through_its_model() {
    let root = spec::workspace_root();
    let spec = spec::load(&root.join(spec::SPEC_PATH)).unwrap().json;
    let mut checked = Vec::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            for (status, response) in operation["responses"].as_object().unwrap() {
                let example = &response["content"]["application/json"]["example"];
                if !status.starts_with('2') || example.is_null() {
                    continue;
                }
                match id {
                    "create_session" | "retrieve_session" => {
                        example_round_trip::<Session>(id, example)
                    }
                    "end_session" => example_round_trip::<EndedSession>(id, example),
                    "retrieve_session_transcript" => example_round_trip::<Transcript>(id, example),
                    "list_session_recordings" => example_round_trip::<RecordingList>(id, example),
                    "retrieve_recording" => example_round_trip::<Recording>(id, example),
                    "create_analysis" | "retrieve_analysis" => {
                        example_round_trip::<Analysis>(id, example)
                    }
                    other => panic!("{other} has a JSON example but no model is checked for it"),
                }
                checked.push(id);
            }
        }
    }
    checked.sort_unstable();
    assert_eq!(
        checked,
        [
            "create_analysis",
            "create_session",
            "end_session",
            "list_session_recordings",
            "retrieve_analysis",
            "retrieve_recording",
            "retrieve_session",
            "retrieve_session_transcript"
        ]
    );
}
