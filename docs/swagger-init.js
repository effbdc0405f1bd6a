// Swagger UI at /docs (docs/swagger.html.in). A file of its own, not an inline script: the page's CSP allows
// scripts from 'self' only.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
});
