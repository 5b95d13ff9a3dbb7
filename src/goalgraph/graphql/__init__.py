"""The GraphQL API: types, queries, mutations, context, loaders and errors."""
