// The one way the dashboard talks to goalgraph: POST /graphql with the viewer's bearer token,
// typed by the documents codegen generated from schema/schema.graphql.
import type { TypedDocumentString } from "../gql/graphql";

const TOKEN_KEY = "goalgraph.token";

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A GraphQL error from the server (`errors[]`), with its `extensions.code` when there is one. */
export class GraphQLRequestError extends Error {
  readonly code: string | undefined;
  readonly status: number;

  constructor(message: string, code: string | undefined, status: number) {
    super(message);
    this.name = "GraphQLRequestError";
    this.code = code;
    this.status = status;
  }
}

/** Listeners told when the server says the token is no good (to send the viewer back to login). */
const unauthenticated = new Set<() => void>();
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticated.add(listener);
  return () => unauthenticated.delete(listener);
}

export function graphqlUrl(): string {
  return new URL("/graphql", window.location.href).toString();
}

export async function execute<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  return executeWith(getToken(), document, variables);
}

export async function executeWith<TResult, TVariables>(
  token: string | null,
  document: TypedDocumentString<TResult, TVariables>,
  variables?: TVariables,
): Promise<TResult> {
  const response = await fetch(graphqlUrl(), {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query: document.toString(), variables: variables ?? {} }),
  });
  let body: { data?: TResult | null; errors?: { message: string; extensions?: { code?: string } }[] };
  try {
    body = await response.json();
  } catch {
    throw new GraphQLRequestError(`${response.status} ${response.statusText}`, undefined, response.status);
  }
  if (body.errors?.length) {
    const [first] = body.errors;
    const code = first.extensions?.code;
    if (code === "UNAUTHENTICATED") unauthenticated.forEach((listener) => listener());
    throw new GraphQLRequestError(body.errors.map((e) => e.message).join("; "), code, response.status);
  }
  if (!response.ok || body.data == null) {
    throw new GraphQLRequestError(`${response.status} ${response.statusText}`, undefined, response.status);
  }
  return body.data;
}
