// Loaded before vendor/three/three.min.js (r125). Its bundled regenerator-runtime ends with
// `try { regeneratorRuntime = e } catch (t) { Function("r", "regeneratorRuntime = r")(e) }`: in strict
// code the assignment to an undeclared global throws and the fallback builds a function from a string,
// which the page's Content-Security-Policy (no 'unsafe-eval') refuses, and three.js then fails to load.
// Declaring the global first makes the plain assignment succeed, so no string is ever evaluated.
var regeneratorRuntime; // eslint-disable-line no-var, no-unused-vars
