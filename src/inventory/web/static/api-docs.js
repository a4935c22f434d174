// Starts Swagger UI on the API's OpenAPI document (kept out of the page: strict CSP).
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({ url: root.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true });
