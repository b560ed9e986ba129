// The docs page: Swagger UI showing the bridge's own spec. Nothing leaves the bridge: no validator badge (Swagger
// UI would ask validator.swagger.io), no external URL; the spec is the one /api/v1/openapi.json serves.
"use strict";
window.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayOperationId: true,
    tryItOutEnabled: false,
  });
});
