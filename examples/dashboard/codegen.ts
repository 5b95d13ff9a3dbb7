import type { CodegenConfig } from "@graphql-codegen/cli";

// Types for every operation in src/, generated from the server's exported SDL.
// `npm run build` (and `npm run dev`) run this first; the output in src/gql/ is not committed.
const config: CodegenConfig = {
  schema: "../../schema/schema.graphql",
  documents: ["src/**/*.{ts,tsx}", "!src/gql/**/*"],
  ignoreNoDocuments: false,
  generates: {
    "./src/gql/": {
      preset: "client",
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: {
          Date: "string",
          DateTime: "string",
          Decimal: "string",
          JSON: "Record<string, unknown>",
        },
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
