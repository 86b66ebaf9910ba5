// Lint rules for the explorer's page script: plain ES2018 in a browser, no modules, no globals
// leaked but window.anycapture. Run by tests/test_explore.py after `npm install` in tests/js.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: { ecmaVersion: 2018, sourceType: "script", globals: globals.browser },
    rules: { eqeqeq: "error", "no-implicit-globals": "error", strict: ["error", "function"] },
  },
];
