-- Argo CD health check for scenefarm.dev/VideoRequest
-- (argocd-cm key: resource.customizations.health.scenefarm.dev_VideoRequest).
-- Written for gopher-lua (Lua 5.1): no goto, no integer division, no string.format("%d") on floats.
--
-- Order matters and mirrors kstatus: an unobserved spec first (the status describes an older
-- generation), then Stalled/Failed, then deliberate pauses, then success, then work in progress.
local hs = {status = "Progressing", message = "Waiting for the operator to report status"}

local status = obj.status
if status == nil then
  return hs
end

local generation = obj.metadata and obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
    .. " (observed " .. tostring(observed) .. ")"
  return hs
end

local conditions = {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type ~= nil then
      conditions[condition.type] = condition
    end
  end
end

local function isTrue(name)
  return conditions[name] ~= nil and conditions[name].status == "True"
end

local function explain(name, fallback)
  local condition = conditions[name]
  if condition ~= nil and condition.message ~= nil and condition.message ~= "" then
    return condition.message
  end
  return fallback
end

local phase = status.phase

if isTrue("Stalled") or phase == "Failed" then
  hs.status = "Degraded"
  hs.message = explain("Stalled", explain("Ready", "The video failed to render"))
  return hs
end

-- Both are deliberate stops by a person, not errors: Argo shows them as Suspended.
if phase == "Suspended" or phase == "Cancelled" then
  hs.status = "Suspended"
  hs.message = explain("Ready", phase == "Cancelled" and "Cancelled" or "Suspended (spec.suspend)")
  return hs
end

if isTrue("Reconciling") then
  hs.message = explain("Reconciling", "Reconciling")
  return hs
end

if phase == "Succeeded" or (phase == nil and isTrue("Ready")) then
  hs.status = "Healthy"
  hs.message = explain("Ready", "The video is ready")
  return hs
end

if phase ~= nil then
  local progress = status.progress or 0
  local done = status.scenesSucceeded or 0
  local total = status.scenesTotal or 0
  hs.message = phase .. ": " .. tostring(progress) .. "% (" .. tostring(done) .. "/"
    .. tostring(total) .. " scenes)"
end
return hs
