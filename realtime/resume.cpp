// Replay selection for last_event_id: the ring when it reaches back far enough, Redis otherwise, and the
// membership walk that decides which missed events belong to the user.
#include "realtime/resume.hpp"

#include <algorithm>
#include <unordered_set>

namespace chat::realtime {

ResumePlan plan_resume(const std::optional<std::string>& last_event_id, const EventRing& ring, StreamId position) {
  ResumePlan plan;
  if (!last_event_id || last_event_id->empty()) return plan;
  auto id = StreamId::parse(*last_event_id);
  if (!id) {
    plan.kind = ResumePlan::Kind::kResync;
    plan.reason = kResyncUnknown;
    return plan;
  }
  plan.after = *id;
  if (*id > position || !ring.covers(*id)) {
    plan.kind = ResumePlan::Kind::kFetch;  // newer than what the loop has read, or older than the ring
  } else if (ring.knows(*id)) {
    plan.kind = ResumePlan::Kind::kRing;
  } else {
    plan.kind = ResumePlan::Kind::kResync;  // inside the ring's range but never issued
    plan.reason = kResyncUnknown;
  }
  return plan;
}

std::vector<EventPtr> replay_candidates(const ResumePlan& plan, const FetchedRange* fetched, const EventRing& ring,
                                        StreamId position, std::string* resync_reason) {
  std::vector<EventPtr> out;
  if (plan.kind == ResumePlan::Kind::kRing) {
    if (!ring.covers(plan.after)) {  // evicted while the worker authenticated
      *resync_reason = kResyncTooOld;
      return {};
    }
    for (auto& e : ring.after(plan.after)) {
      if (e->id <= position) out.push_back(e);
    }
    return out;
  }
  if (plan.kind != ResumePlan::Kind::kFetch || !fetched) return out;
  if (!fetched->resync_reason.empty()) {
    *resync_reason = fetched->resync_reason;
    return {};
  }
  StreamId upto = plan.after;
  for (const auto& e : fetched->events) {
    if (e->id <= plan.after || e->id > position) continue;  // newer than position comes live
    out.push_back(e);
    upto = e->id;
  }
  upto = std::max(upto, std::min(fetched->upto, position));
  if (upto < position) {
    if (!ring.covers(upto)) {
      *resync_reason = kResyncTooOld;
      return {};
    }
    for (auto& e : ring.after(upto)) {
      if (e->id <= position) out.push_back(e);
    }
  }
  return out;
}

namespace {

// Would `user_id` have received `e`, given its membership right after `e`? (For the user's own
// membership events user_ids names it, so membership before or after makes no difference.)
bool delivered(const StreamEvent& e, const std::string& user_id, const std::set<std::string>& membership) {
  switch (e.audience) {
    case Audience::kEveryone: return true;
    case Audience::kUsers: return e.names_user(user_id);
    case Audience::kConversation: return e.names_user(user_id) || membership.count(e.conversation_id) > 0;
  }
  return false;
}

}  // namespace

std::vector<EventPtr> replay_for(const std::string& user_id, std::set<std::string> membership_now,
                                 const std::vector<EventPtr>& candidates) {
  // Forward pass: the first entry of each outbox id wins (a relay may append a row twice).
  std::vector<bool> keep(candidates.size(), true);
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const StreamEvent& e = *candidates[i];
    if (e.duplicate || (!e.outbox_id.empty() && !seen.insert(e.outbox_id).second)) keep[i] = false;
  }
  // Backward pass: judge each event by the membership after it, then undo the user's own change.
  std::set<std::string>& membership = membership_now;
  std::vector<EventPtr> out;
  for (size_t i = candidates.size(); i-- > 0;) {
    if (!keep[i]) continue;
    const StreamEvent& e = *candidates[i];
    if (delivered(e, user_id, membership)) out.push_back(candidates[i]);
    if (e.changes_membership_of(user_id)) {
      if (e.adds_members()) membership.erase(e.conversation_id);
      if (e.removes_members()) membership.insert(e.conversation_id);
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace chat::realtime
