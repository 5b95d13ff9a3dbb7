// Every GraphQL operation the dashboard sends. `npm run codegen` types each one from
// ../../schema/schema.graphql into src/gql/, so a field the server drops fails the build.
import { graphql } from "../gql";

export const PeriodFields = graphql(`
  fragment PeriodFields on GoalPeriod {
    index
    label
    startDate
    endDate
    target
    actual
    ratio
    status
    facts
    isCurrent
    snapshotTakenAt
    computedAt
    pending
    pace { elapsed expectedByNow projectedAtEnd status }
    elements { element target actual ratio status }
    unconverted { currency facts }
  }
`);

export const GoalCardFields = graphql(`
  fragment GoalCardFields on Goal {
    id
    title
    measure
    currency
    interval
    startDate
    endDate
    fiscal
    target
    stretchTarget
    locked
    version
    splitBy
    goalType { key label category }
    assignee { kind user { id name } team { id name } }
    viewerCan { edit delete lock enterValues }
    currentPeriod { ...PeriodFields }
    summary { target actual ratio status }
  }
`);

export const MeQuery = graphql(`
  query Me {
    me {
      subject
      user { id name teams { id leaders { id } members { id } } }
      access { role admin seeCompanyStatistics seeOtherUsersStatistics canLockTargets }
    }
    organisation { name defaultCurrency timeZone weekStart fiscalYearStartMonth }
  }
`);

export const GoalsQuery = graphql(`
  query Goals($first: Int!, $filter: GoalFilter, $orderBy: GoalOrder!) {
    goals(first: $first, filter: $filter, orderBy: $orderBy) {
      totalCount
      nodes { ...GoalCardFields }
    }
  }
`);

export const GoalQuery = graphql(`
  query Goal($id: ID!) {
    goal(id: $id) {
      ...GoalCardFields
      missingFeatures
      filters { key values }
      elementTargets { element target }
      periods { ...PeriodFields }
      notifications { assigned milestones pace periodClosed weeklyDigest teamLeaders }
    }
  }
`);

export const ContributionsQuery = graphql(`
  query Contributions($id: ID!, $from: Date!, $to: Date!, $first: Int!, $after: String) {
    goal(id: $id) {
      id
      measure
      currency
      periods(from: $from, to: $to) {
        index
        label
        actual
        contributions(first: $first, after: $after) {
          totalCount
          pageInfo { hasNextPage endCursor }
          nodes {
            amount
            originalAmount { amount currency }
            occurredAt
            element
            deal { id title status value { amount currency } owner { id name } stage { name } }
            activity { id type subject done owner { id name } }
            entry { id value note enteredBy enteredByUser { id name } enteredAt }
          }
        }
      }
    }
  }
`);

export const FormDataQuery = graphql(`
  query GoalFormData {
    organisation { defaultCurrency weekStart fiscalYearStartMonth }
    goalTypes {
      key
      label
      category
      description
      measures { key label money }
      filters { key label kind required multiple choices description dimension }
      perPeriodTargets
      feature
    }
    dimensions { key label appliesTo elements feature }
    features { key label enabled }
    pipelines { id name stages { id name position } }
    goalTemplates { key label title description goalType measure interval assigneeKind filters { key values } suggestedTarget notifications available }
    users(first: 500, active: true) { nodes { id name } }
    teams(first: 200) { nodes { id name } }
  }
`);

export const GoalPayloadFields = graphql(`
  fragment GoalPayloadFields on GoalPayload {
    __typename
    ... on GoalSuccess { goal { id version } }
    ... on ValidationError { code message fieldErrors { path message code } }
    ... on NotFoundError { code message }
    ... on ConflictError { code message currentVersion }
    ... on LockedError { code message lockedAt lockedBy }
    ... on ForbiddenError { code message }
    ... on LicenceRequiredError { code message feature }
  }
`);

export const CreateGoalMutation = graphql(`
  mutation CreateGoal($input: GoalInput!) {
    createGoal(input: $input) { ...GoalPayloadFields }
  }
`);

export const UpdateGoalMutation = graphql(`
  mutation UpdateGoal($id: ID!, $version: Int!, $input: GoalUpdateInput!) {
    updateGoal(id: $id, version: $version, input: $input) { ...GoalPayloadFields }
  }
`);

export const LockGoalMutation = graphql(`
  mutation LockGoal($id: ID!, $version: Int!) {
    lockGoal(id: $id, version: $version) { ...GoalPayloadFields }
  }
`);

export const UnlockGoalMutation = graphql(`
  mutation UnlockGoal($id: ID!, $version: Int!) {
    unlockGoal(id: $id, version: $version) { ...GoalPayloadFields }
  }
`);

export const DeleteGoalMutation = graphql(`
  mutation DeleteGoal($id: ID!, $version: Int!) {
    deleteGoal(id: $id, version: $version) {
      __typename
      ... on DeleteGoalSuccess { id }
      ... on NotFoundError { code message }
      ... on ConflictError { code message currentVersion }
      ... on ForbiddenError { code message }
    }
  }
`);

export const PlanOptionsQuery = graphql(`
  query PlanOptions {
    organisation { defaultCurrency fiscalYearStartMonth }
    goalTypes { key label perPeriodTargets measures { key label money } }
  }
`);

export const TargetsPlanQuery = graphql(`
  query TargetsPlan($key: PlanKeyInput!) {
    targetsPlan(key: $key) {
      periods { index label startDate endDate }
      rows {
        assignee { kind user { id name } team { id name } }
        goal { id title version locked viewerCan { edit } }
        targets
        actuals
        memberTargets
        key
        parentKey
        depth
        childKeys
        hasChildren
        childrenTargets
        childrenActuals
        targetMismatch
      }
    }
  }
`);

export const TargetsPlanCsvQuery = graphql(`
  query TargetsPlanCsv($key: PlanKeyInput!) {
    targetsPlanCsv(key: $key)
  }
`);

export const ImportTargetsPlanMutation = graphql(`
  mutation ImportTargetsPlan($key: PlanKeyInput!, $csv: String!, $dryRun: Boolean!) {
    importTargetsPlan(key: $key, csv: $csv, dryRun: $dryRun) {
      __typename
      ... on TargetsImported { cells goalsChanged dryRun changes { key name periodStart periodLabel before after } }
      ... on TargetsFileRejectedError { code message errors { line column message } }
      ... on ValidationError { code message fieldErrors { path message code } }
      ... on NotFoundError { code message }
      ... on ConflictError { code message }
      ... on LockedError { code message }
      ... on ForbiddenError { code message }
      ... on LicenceRequiredError { code message feature }
    }
  }
`);

export const SetPlanTargetsMutation = graphql(`
  mutation SetPlanTargets($key: PlanKeyInput!, $cells: [PlanCellInput!]!) {
    setPlanTargets(key: $key, cells: $cells) { ...PlanPayloadFields }
  }
`);

export const PlanPayloadFields = graphql(`
  fragment PlanPayloadFields on PlanPayload {
    __typename
    ... on PlanSaved { goalsChanged }
    ... on ValidationError { code message fieldErrors { path message code } }
    ... on NotFoundError { code message }
    ... on ConflictError { code message }
    ... on LockedError { code message }
    ... on ForbiddenError { code message }
    ... on LicenceRequiredError { code message feature }
  }
`);

export const CopyTargetsPlanMutation = graphql(`
  mutation CopyTargetsPlan($key: PlanKeyInput!, $toYear: Int!, $scalePercent: Decimal!) {
    copyTargetsPlan(key: $key, toYear: $toYear, scalePercent: $scalePercent) { ...PlanPayloadFields }
  }
`);

export const RenameGoalMutation = graphql(`
  mutation RenameGoal($id: ID!, $version: Int!, $title: String!) {
    updateGoal(id: $id, version: $version, input: { title: $title }) { __typename }
  }
`);

export const GoalProgressSubscription = graphql(`
  subscription GoalProgress($goalIds: [ID!]!) {
    goalProgress(goalIds: $goalIds) {
      reason
      at
      goals {
        ...GoalCardFields
        periods { ...PeriodFields }
      }
    }
  }
`);

export const LeaderboardOptionsQuery = graphql(`
  query LeaderboardOptions {
    organisation { defaultCurrency }
    goalTypes { key label measures { key label money } filters { key required } }
  }
`);

export const LeaderboardQuery = graphql(`
  query Leaderboard($goalType: String!, $measure: String!, $interval: Interval!, $rankBy: LeaderboardRank!, $entrants: LeaderboardEntrants!) {
    leaderboard(goalType: $goalType, measure: $measure, interval: $interval, rankBy: $rankBy, entrants: $entrants) {
      label startDate endDate lowerIsBetter entrants
      entries { rank userId teamId name actual target ratio isViewer }
    }
  }
`);

export const NotificationFields = graphql(`
  fragment NotificationFields on Notification {
    id
    kind
    title
    body
    goalId
    read
    createdAt
  }
`);

export const NotificationsSubscription = graphql(`
  subscription Notifications($first: Int!) {
    notifications(first: $first) {
      unreadCount
      reason
      notifications { ...NotificationFields }
    }
  }
`);

export const MarkNotificationsReadMutation = graphql(`
  mutation MarkNotificationsRead($ids: [ID!], $all: Boolean!) {
    markNotificationsRead(ids: $ids, all: $all) {
      __typename
      ... on NotificationsMarkedRead { marked unreadCount }
      ... on ValidationError { message }
    }
  }
`);

export const GoalEntryFields = graphql(`
  fragment GoalEntryFields on GoalEntry {
    id
    on
    value
    note
    enteredBy
    enteredByUser { id name }
    enteredAt
    current
    replacesId
    supersededById
    supersededAt
    deletedAt
    deletedBy
  }
`);

export const GoalEntriesQuery = graphql(`
  query GoalEntries($id: ID!, $first: Int!, $after: String) {
    goal(id: $id) {
      id
      entries(first: $first, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { ...GoalEntryFields }
      }
    }
  }
`);

export const GoalEntryPayloadFields = graphql(`
  fragment GoalEntryPayloadFields on GoalEntryPayload {
    __typename
    ... on GoalEntrySuccess { entry { id } }
    ... on ValidationError { code message fieldErrors { path message code } }
    ... on NotFoundError { code message }
    ... on ForbiddenError { code message }
    ... on LicenceRequiredError { code message feature }
  }
`);

export const AddGoalEntryMutation = graphql(`
  mutation AddGoalEntry($goalId: ID!, $on: Date!, $value: Decimal!, $note: String) {
    addGoalEntry(goalId: $goalId, on: $on, value: $value, note: $note) { ...GoalEntryPayloadFields }
  }
`);

export const CorrectGoalEntryMutation = graphql(`
  mutation CorrectGoalEntry($entryId: ID!, $value: Decimal!, $note: String) {
    correctGoalEntry(entryId: $entryId, value: $value, note: $note) { ...GoalEntryPayloadFields }
  }
`);

export const DeleteGoalEntryMutation = graphql(`
  mutation DeleteGoalEntry($entryId: ID!) {
    deleteGoalEntry(entryId: $entryId) { ...GoalEntryPayloadFields }
  }
`);
