// Swagger UI at /docs (docs/swagger.html.in). A file of its own, not an inline script: the page's CSP allows
// scripts from 'self' only.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
  // Swagger UI would otherwise show a badge image from validator.swagger.io, which gets the document's URL, on
  // every host but localhost: a request to another origin, refused by the CSP anyway.
  validatorUrl: null,
});
