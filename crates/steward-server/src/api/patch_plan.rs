//! What the patch policies decide for one device now
//! (`steward_patch::decide`): which pending updates install, which wait and
//! why (a hold and who set it, the mode, a deferral, the pilot ring, the
//! window), and whether it reboots. The console's pending updates show
//! these reasons; the deployment loop acts on the same decision.

use super::{ApiResult, id_param};
use crate::AppState;
use crate::auth::Caller;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn device_plan(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Value> {
    let id = id_param(&id, "device")?;
    let device = state.store.get_device(&caller.scope, id).await?;
    let plan =
        crate::jobs::patches::plan_for(state.store.as_ref(), &device, crate::now_ms()).await?;
    let decision = plan.decision;
    let mut value = json!(decision);
    value["device_id"] = json!(id);
    Ok(Json(value))
}
